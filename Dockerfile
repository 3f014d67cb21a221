# One image for every lcx service; compose.yaml picks the binary per service.
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends make gcc pkg-config \
      libzmq3-dev libczmq-dev libmicrohttpd-dev libsqlite3-dev libmsgpack-dev libjansson-dev \
      libcmocka-dev libseccomp-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make all

FROM debian:12-slim
# Runtime libraries, and the toolchains the runner serves (see languages.conf).
RUN apt-get update && apt-get install -y --no-install-recommends libzmq5 libczmq4 \
      libmicrohttpd12 libsqlite3-0 libmsgpackc2 libjansson4 libseccomp2 python3 nodejs \
      default-jdk-headless gcc g++ libc6-dev bash && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/ /opt/lcx/bin/
COPY --from=build /src/build/etc/ /opt/lcx/etc/
ENV PATH=/opt/lcx/bin:$PATH
