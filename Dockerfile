# vigil serve in a container: Debian trixie (Node.js 20, libtorch-dev 2.x, OpenBLAS), the addon and
# the TypeScript built inside the image. Trained runs and the history are volumes, not image layers.
#   docker build -t vigil .
#   docker run -p 8080:8080 -e VIGIL_TOKEN=$(openssl rand -hex 16) -v $PWD/runs/parts:/runs/parts:ro \
#     -v vigil-history:/history vigil serve /runs/parts --host 0.0.0.0
# (off loopback vigil serve requires the token; never bake one into the image)
# See docs/deploy.md.
FROM debian:trixie-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends nodejs npm libtorch-dev libopenblas0-pthread libdnnl-dev \
      build-essential python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/vigil
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The same build as scripts/setup.sh (which would also apt-get the demo's data), then drop the
# compilers' npm side: tsc and the test-only packages are not needed to serve.
RUN node scripts/build-addon.mjs && npx tsc -p . && npm prune --omit=dev --no-audit --no-fund
RUN useradd --system --home-dir /history vigil && mkdir -p /history && chown vigil /history
USER vigil
# The working folder is the volume: serve's default --history ./vigil-history lands in it.
WORKDIR /history
EXPOSE 8080
# docker stop sends SIGTERM: the server drains (finishes queued requests) and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/opt/vigil/dist/src/cli/main.js"]
CMD ["serve", "--help"]
