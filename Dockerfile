# The clusterctl image: the static binary on an empty base, so that building
# it pulls nothing. Build the binary first (make image does both).
FROM scratch
COPY clusterctl /clusterctl
USER 65534:65534
ENTRYPOINT ["/clusterctl"]
