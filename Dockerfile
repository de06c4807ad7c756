# syntax=docker/dockerfile:1
# Build: docker build -t patchbay .
# Run:   docker run -p 8080:8080 -v patchbay-data:/data patchbay

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

FROM eclipse-temurin:21-jre AS runtime
RUN useradd --system --uid 10001 --home-dir /data patchbay \
 && mkdir -p /data && chown patchbay /data
WORKDIR /app
COPY --from=build /layers/dependencies/ ./
COPY --from=build /layers/spring-boot-loader/ ./
COPY --from=build /layers/snapshot-dependencies/ ./
COPY --from=build /layers/application/ ./
USER patchbay
ENV PATCHBAY_DATA_DIR=/data \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=50 -Dai.djl.offline=true"
VOLUME /data
EXPOSE 8080
# The JRE image has no curl; bash's /dev/tcp speaks enough HTTP for a probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s CMD ["bash", "-c", \
  "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /actuator/health/liveness HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q UP <&3"]
ENTRYPOINT ["java", "org.springframework.boot.loader.launch.JarLauncher"]
