#pragma once
// The sink contract (after Vector's): batches in, exactly one
// acknowledgement out per batch, asynchronously. The pipeline counts an
// event as delivered only when every sink has acknowledged its batch with
// Delivered; only then can the checkpoint move past it.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/record.h"

namespace prometheus { class Registry; }

namespace zf {

class Logger;

enum class DeliveryStatus {
  Delivered,  // durably handed over (fsynced, broker-acked, written+flushed)
  Retriable,  // not delivered; sending the same batch again may succeed
  Permanent,  // not delivered; retrying cannot help (auth, too large, ...)
  // Not delivered, and the sink writes nothing more: another writer with
  // its identity took over (a Kafka transactional producer fenced by the
  // account's next owner). Stops the run like Permanent; under
  // coordination it means the account moved, not that the process failed.
  Superseded,
};

struct Ack {
  uint64_t seq = 0;
  DeliveryStatus status = DeliveryStatus::Delivered;
  std::string error;  // what went wrong and what to do; empty when Delivered
};

// May be called from any thread, exactly once per send().
using AckCallback = std::function<void(Ack)>;

class Sink {
 public:
  virtual ~Sink() = default;

  // Starts delivery of `batch`. Must not block for long: queue and return.
  // Called from several threads (one per source): sinks are shared.
  // The sink may fail the batch as Retriable when its queue is full, but the
  // pipeline already bounds how many batches are in flight.
  virtual void send(BatchPtr batch, AckCallback on_ack) = 0;

  // Waits up to `timeout` for every sent batch to be acknowledged (either
  // way). Returns true when nothing is left in flight.
  virtual bool flush(std::chrono::milliseconds timeout) = 0;

  // Flushes within `timeout`, then releases connections and threads. Batches
  // still unacknowledged are acknowledged Retriable before close() returns.
  virtual void close(std::chrono::milliseconds timeout) = 0;

  // True when the sink stores each batch's position with its records (Kafka
  // exactly_once): then only the sink can make a position durable, and it
  // is sent batches without records too.
  virtual bool keeps_positions() const { return false; }
};

// What a sink gets from the process when it is built.
struct SinkContext {
  std::string name;              // the sink's configured name (metric label)
  Logger& log;
  prometheus::Registry& metrics; // for sink-specific metrics
  std::string sources = "";      // the sources it serves, "+"-joined (Kafka exactly_once's default id)
};

// Config parsing is separate from building: `validate` parses every sink's
// section (throwing ConfigError naming the key) without opening anything;
// `run` then calls the builder.
using SinkBuilder = std::function<std::unique_ptr<Sink>(const SinkContext&)>;

// For `verify`: reads back every record a sink holds for one account and
// calls `each` with the record's bytes. Throws std::runtime_error saying
// why the sink cannot be read.
using RecordVisitor = std::function<void(std::string_view record)>;
using SinkReader = std::function<void(const std::string& account, const RecordVisitor& each)>;

// For a sink that stores each source's position with its records in one
// transaction (Kafka exactly_once): the newest committed position of
// `source` (nullopt when it holds none yet) and, of the pieces kept beside
// it (PositionPiece), the newest value of each key `needs(position)` names
// (a key without one, never written or no longer held, is absent). Throws
// std::runtime_error saying why the sink cannot be read.
struct KeptPosition {
  std::string position;
  std::map<std::string, std::string> pieces;
  // What finding them cost, for the start's log line: a slow start shows
  // whether it read far back or waited on someone's open transaction.
  struct Cost {
    int rounds = 0;             // tails read, each longer than the last
    int64_t messages = 0;       // messages read in all
    double seconds = 0;         // the whole read
    double waited_seconds = 0;  // of which waiting past the last stable offset
  } cost;
};
using PieceNeeds = std::function<std::set<std::string>(const std::string& position)>;
using PositionReader = std::function<std::optional<KeptPosition>(const std::string& source, const PieceNeeds& needs)>;

}  // namespace zf
