# The grapevine agent in a container: the monorepo, installed and built as README.md says, with the
# `grapevine` command as entry point. Build from the repository root:
#   docker build -t grapevine .
#   docker run --rm grapevine help
# A three-node cluster: examples/docker/compose.yaml.
FROM node:20-bookworm-slim
WORKDIR /app
# pnpm and the TypeScript build need the whole workspace (sources, manifests, lockfile).
COPY . .
RUN npx -y pnpm@10 install --frozen-lockfile \
 && node packages/agent/dist/cli.js help > /dev/null
# UDP and TCP gossip on one port; the HTTP API (when --http is given) on 8080.
EXPOSE 7946/udp 7946/tcp 8080/tcp
# Runs as the unprivileged user of the node image; SIGTERM (docker stop) leaves the cluster gracefully.
USER node
ENTRYPOINT ["node", "/app/packages/agent/dist/cli.js"]
CMD ["agent", "--bind", "0.0.0.0:7946"]
