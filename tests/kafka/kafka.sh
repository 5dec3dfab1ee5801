# Kafka helpers for the scripts in tests/kafka (after integration/lib.sh):
# the mock cluster, and kcat with the sink's producer settings.

zf_start_mock_cluster() {  # MOCK_BINARY [--control FIFO] [--topic T:P:R]...: sets BOOT
  "$1" --brokers 3 --bootstrap-file "$ZF_TMP/bootstrap" "${@:2}" >/dev/null 2>>"$ZF_TMP/mock.log" &
  ZF_PIDS+=($!)
  zf_wait_file "$ZF_TMP/bootstrap" 30
  BOOT=$(cat "$ZF_TMP/bootstrap")
}

# The sink's defaults (sinks/kafka/kafka_sink.cpp), spelled for kcat.
zf_kcat_produce() {  # TOPIC [kcat args...], "key<TAB>value" lines on stdin
  kcat -P -b "$BOOT" -t "$1" -K $'\t' -z zstd -X enable.idempotence=true -X acks=all -X linger.ms=5 \
    -X batch.size=1000000 -X batch.num.messages=10000 "${@:2}"
}
