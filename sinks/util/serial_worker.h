#pragma once
// The delivery loop shared by sinks that write batches one after another on
// one connection or file (jsonl, syslog): a queue, one thread, one
// acknowledgement per batch in order, flush and close. The sink supplies
// `deliver`, which returns "" when the batch is durably written, or why not
// (acknowledged Retriable: the pipeline sends it again) or throws
// PermanentError when sending it again cannot help (acknowledged
// Permanent: the pipeline stops), and `abort`, which
// makes a `deliver` blocked on the network return now (close() calls it
// when its time is up).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/sink.h"

namespace zf::sinks {

// Thrown by a `deliver` that cannot succeed however often it is retried.
struct PermanentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SerialWorker {
 public:
  using Deliver = std::function<std::string(const Batch&)>;
  using Abort = std::function<void()>;

  explicit SerialWorker(Deliver deliver, Abort abort = [] {})
      : deliver_(std::move(deliver)), abort_(std::move(abort)), thread_([this] { run(); }) {}
  ~SerialWorker() { close(std::chrono::seconds(5)); }

  void send(BatchPtr batch, AckCallback on_ack) {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        queue_.push_back({std::move(batch), std::move(on_ack)});
        cv_.notify_all();
        return;
      }
    }
    on_ack(Ack{batch->seq, DeliveryStatus::Retriable, "sink closed"});
  }

  bool flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && !busy_; });
  }

  // Returns by `timeout` (plus what `abort` takes), after the thread ended;
  // batches never written are acknowledged Retriable.
  void close(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    flush(timeout);
    {
      std::unique_lock lock(mu_);
      if (closed_) return;
      closed_ = true;
      cv_.notify_all();
      // The batch being written may finish in the time left; if not, the
      // sink is told to give up on it.
      if (!idle_cv_.wait_until(lock, deadline, [&] { return !busy_; })) {
        lock.unlock();
        abort_();
      }
    }
    if (thread_.joinable()) thread_.join();
    for (auto& item : queue_) item.ack(Ack{item.batch->seq, DeliveryStatus::Retriable, "sink closed before writing"});
    queue_.clear();
  }

 private:
  struct Item {
    BatchPtr batch;
    AckCallback ack;
  };

  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
      if (closed_) return;  // what is left is acknowledged by close()
      Item item = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::string error;
      DeliveryStatus status = DeliveryStatus::Delivered;
      try {
        error = deliver_(*item.batch);
        if (!error.empty()) status = DeliveryStatus::Retriable;
      } catch (const PermanentError& e) {
        error = e.what();
        status = DeliveryStatus::Permanent;
      } catch (const std::exception& e) {
        error = e.what();
        status = DeliveryStatus::Retriable;
      }
      item.ack(Ack{item.batch->seq, status, error});
      lock.lock();
      busy_ = false;
      idle_cv_.notify_all();
    }
  }

  Deliver deliver_;
  Abort abort_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Item> queue_;
  bool busy_ = false;
  bool closed_ = false;
  std::thread thread_;  // last: starts after every other member exists
};

}  // namespace zf::sinks
