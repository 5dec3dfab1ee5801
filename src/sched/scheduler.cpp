#include "sched/scheduler.h"

#include <pthread.h>

#include <stdexcept>

namespace zf::sched {

Scheduler::Scheduler(size_t workers, std::string name) {
  if (workers == 0) throw std::invalid_argument("a scheduler needs at least one worker");
  for (size_t i = 0; i < workers; ++i) {
    threads_.emplace_back([this] { run_worker(); });
    // Linux names are at most 15 characters.
    std::string thread_name = (name + "-" + std::to_string(i)).substr(0, 15);
    pthread_setname_np(threads_.back().native_handle(), thread_name.c_str());
  }
}

Scheduler::~Scheduler() {
  stop_jobs();
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  work_.notify_all();
  for (auto& t : threads_) t.join();
}

void Scheduler::schedule(JobId id, Entry& e, SteadyTime when) {
  e.parked = false;
  queue_.push(Item{when, ++order_, id, ++e.version, {}});
}

Scheduler::JobId Scheduler::add(Job job, SteadyTime first, std::atomic<JobId>* id_out) {
  std::lock_guard lock(mu_);
  JobId id = ++next_id_;
  if (id_out) id_out->store(id);
  Entry& e = jobs_[id];
  e.job = std::move(job);
  schedule(id, e, first);
  work_.notify_one();
  return id;
}

void Scheduler::wake(JobId id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  Entry& e = it->second;
  if (e.running) {
    e.wake_pending = true;
    return;
  }
  schedule(id, e, std::chrono::steady_clock::now());
  work_.notify_one();
}

void Scheduler::post_at(SteadyTime when, std::function<void()> task) {
  std::lock_guard lock(mu_);
  queue_.push(Item{when, ++order_, 0, 0, std::move(task)});
  work_.notify_one();
}

size_t Scheduler::jobs() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

bool Scheduler::wait_all_finished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return finished_.wait_for(lock, timeout, [&] { return jobs_.empty(); });
}

void Scheduler::stop_jobs() {
  std::unique_lock lock(mu_);
  jobs_stopped_ = true;
  finished_.wait(lock, [&] { return running_steps_ == 0; });
  jobs_.clear();
  finished_.notify_all();
}

void Scheduler::run_worker() {
  PageBuffer buffer;
  bool buffer_used = false;
  std::unique_lock lock(mu_);
  for (;;) {
    if (closing_ && queue_.empty()) return;
    bool idle = queue_.empty() || (queue_.top().when > std::chrono::steady_clock::now() && !closing_);
    if (idle && buffer_used) {
      // Nothing to run now: the last page's body and parsed document are
      // dead (a step ships its page), and kept they would hold the largest
      // page's memory per worker while the accounts are idle. Busy workers
      // (a catch-up) keep theirs from one step to the next.
      lock.unlock();
      buffer.parser = simdjson::dom::parser();
      std::string().swap(buffer.body);  // a move-assignment would keep the capacity
      buffer_used = false;
      lock.lock();
      continue;
    }
    if (queue_.empty()) {
      work_.wait(lock);
      continue;
    }
    const Item& top = queue_.top();
    auto now = std::chrono::steady_clock::now();
    if (top.when > now && !closing_) {
      work_.wait_until(lock, top.when);
      continue;
    }
    Item item = top;
    queue_.pop();
    if (item.job == 0) {
      lock.unlock();
      item.task();
      lock.lock();
      continue;
    }
    if (jobs_stopped_) continue;
    auto it = jobs_.find(item.job);
    if (it == jobs_.end() || it->second.version != item.version || it->second.running) continue;
    Entry& e = it->second;
    e.running = true;
    e.wake_pending = false;
    ++running_steps_;
    Job& job = e.job;  // map nodes stay put; only this worker runs it now
    lock.unlock();
    Next next;
    buffer_used = true;
    try {
      next = job(buffer);
    } catch (...) {
      // Jobs report their own errors (a pipeline's step ends its run with
      // the message); this only keeps the worker alive for the others.
      next = Next::finished();
    }
    lock.lock();
    --running_steps_;
    e.running = false;
    if (jobs_stopped_) {
      finished_.notify_all();
      continue;
    }
    if (next.kind == Next::Kind::Finished) {
      jobs_.erase(it);
      finished_.notify_all();
      continue;
    }
    if (e.wake_pending || next.kind == Next::Kind::At)
      schedule(item.job, e, e.wake_pending ? now : next.at);
    else
      e.parked = true;
    if (!queue_.empty()) work_.notify_one();
  }
}

}  // namespace zf::sched
