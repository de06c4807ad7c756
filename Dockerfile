# syntax=docker/dockerfile:1
# CPU image (default): docker build -t patchbay .
# GPU image:           docker build --target gpu -t patchbay:gpu .
# Run:                 docker run -p 8080:8080 -v patchbay-data:/data patchbay

FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn .mvn
COPY mvnw pom.xml ./
RUN ./mvnw -B -q dependency:go-offline
COPY openapi.yaml ./
COPY db db
COPY src src
RUN ./mvnw -B -q package -DskipTests -Dspring-javaformat.skip \
 && java -Djarmode=tools -jar target/patchbay-*.jar extract --layers --launcher --destination /layers

# The jar carries DJL's CPU libtorch (pytorch-native-cpu); with ai.djl.offline nothing is downloaded.
FROM eclipse-temurin:21-jre AS base
RUN useradd --system --uid 10001 --home-dir /data patchbay \
 && mkdir -p /data && chown patchbay /data
WORKDIR /app
COPY --from=build /layers/dependencies/ ./
COPY --from=build /layers/spring-boot-loader/ ./
COPY --from=build /layers/snapshot-dependencies/ ./
COPY --from=build /layers/application/ ./
ENV PATCHBAY_DATA_DIR=/data \
    DJL_CACHE_DIR=/data/.djl \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50 -Dai.djl.offline=true"
VOLUME /data
EXPOSE 8080
# The JRE image has no curl; bash's /dev/tcp speaks enough HTTP for a probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s CMD ["bash", "-c", \
  "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /actuator/health/liveness HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q UP <&3"]
ENTRYPOINT ["java", "org.springframework.boot.loader.launch.JarLauncher"]

# Maven Central has no CUDA libtorch 2.7.1: install it, and DJL loads it instead of the CPU build.
# The CUDA JNI is already in pytorch-jni; the host's NVIDIA driver comes in through the container toolkit.
FROM base AS gpu
ARG LIBTORCH_URL=https://download.pytorch.org/libtorch/cu128/libtorch-cxx11-abi-shared-with-deps-2.7.1%2Bcu128.zip
RUN apt-get update && apt-get install -y --no-install-recommends unzip curl ca-certificates \
 && curl -fsSL "$LIBTORCH_URL" -o /tmp/libtorch.zip \
 && unzip -q /tmp/libtorch.zip -d /opt && rm /tmp/libtorch.zip \
 && apt-get purge -y unzip curl && rm -rf /var/lib/apt/lists/*
ENV PYTORCH_LIBRARY_PATH=/opt/libtorch/lib \
    PYTORCH_VERSION=2.7.1 \
    PYTORCH_FLAVOR=cu128 \
    PATCHBAY_ENGINE_DEVICE=gpu
USER patchbay

FROM base AS cpu
USER patchbay
