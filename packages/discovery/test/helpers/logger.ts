import type { Logger } from '@grapevine/core';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: unknown;
  msg: string | undefined;
}

/** A Logger that keeps what it is told, for assertions. */
export class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'debug', obj, msg });
  }
  info(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'info', obj, msg });
  }
  warn(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  at(level: LogEntry['level']): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }
}
