/** A Logger that keeps every line, so a test can count what a flood of bad input wrote. */
import type { Logger } from '@grapevine/core';

export interface LoggedLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

export class LogRecorder implements Logger {
  readonly lines: LoggedLine[] = [];
  debug(obj: object | string, msg?: string): void { this.add('debug', obj, msg); }
  info(obj: object | string, msg?: string): void { this.add('info', obj, msg); }
  warn(obj: object | string, msg?: string): void { this.add('warn', obj, msg); }
  error(obj: object | string, msg?: string): void { this.add('error', obj, msg); }

  /** Lines at `level` whose message contains `text`. */
  matching(level: LoggedLine['level'], text: string): LoggedLine[] {
    return this.lines.filter((l) => l.level === level && l.msg.includes(text));
  }

  private add(level: LoggedLine['level'], obj: object | string, msg?: string): void {
    this.lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj: obj as Record<string, unknown>, msg: msg ?? '' });
  }
}
