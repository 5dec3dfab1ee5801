#pragma once
// A pull source running beside a push source of the same account: events
// push already delivered are dropped from pull's pages (counted as
// duplicates), and the ones only pull found are counted as push's misses
// (zendesk_forwarder_webhook_missed_total): the measured push loss. Once
// committed, those are added to push's delivered ids too, so a push of them
// Zendesk retries or replays later is not delivered a second time.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/source.h"
#include "proof/raw_event.h"
#include "sources/zendesk_pull/pull_metrics.h"
#include "sources/recent_ids.h"

namespace zf::source {

class SkipPushed final : public PollingSource {
 public:
  SkipPushed(PollingSource& pull, std::shared_ptr<RecentIds> pushed, PullMetrics& metrics)
      : pull_(pull), pushed_(std::move(pushed)), missed_(metrics.webhook_missed()) {}

  std::optional<SourcePage> next(bool once) override {
    auto page = pull_.next(once);
    if (page) skip(*page);
    return page;
  }

  Poll poll(bool once, PageBuffer& buffer) override {
    Poll p = pull_.poll(once, buffer);
    if (p.page) skip(*p.page);
    return p;
  }

  CommitCost commit(uint64_t token) override {
    {
      std::lock_guard lock(mu_);
      for (auto it = found_.begin(); it != found_.end() && it->first <= token; it = found_.erase(it))
        pushed_->add(it->second);
    }
    return pull_.commit(token);
  }

  // Pages shipped and not yet committed: bounded by the pipeline's
  // max_inflight_batches once commits flow.
  size_t pending_pages() const {
    std::lock_guard lock(mu_);
    return found_.size();
  }

 private:
  // Drops the events push delivered; remembers the rest for commit().
  void skip(SourcePage& page) {
    size_t kept = 0;
    std::vector<EventKey> found;
    for (simdjson::dom::element e : page.events) {
      if (auto id = proof::raw_id(e)) {
        EventKey key = event_key(*id);
        if (pushed_->contains(key)) continue;
        found.push_back(key);
      }
      page.events[kept++] = e;
    }
    page.duplicates += page.events.size() - kept;
    page.events.resize(kept);
    missed_.Increment(static_cast<double>(kept));
    std::lock_guard lock(mu_);
    found_[page.token] = std::move(found);
  }

  PollingSource& pull_;
  std::shared_ptr<RecentIds> pushed_;
  prometheus::Counter& missed_;
  mutable std::mutex mu_;
  std::map<uint64_t, std::vector<EventKey>> found_;  // by page token, until committed
};

}  // namespace zf::source
