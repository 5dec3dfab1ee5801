#pragma once
// A pull source running beside a push source of the same account: events
// push already delivered are dropped from pull's pages (counted as
// duplicates), and the ones only pull found are counted as push's misses
// (zendesk_forwarder_webhook_missed_total): the measured push loss.
#include <memory>
#include <optional>

#include "core/source.h"
#include "metrics/metrics.h"
#include "source/recent_ids.h"

namespace zf::source {

class SkipPushed final : public Source {
 public:
  SkipPushed(Source& pull, std::shared_ptr<const RecentIds> pushed, Metrics& metrics)
      : pull_(pull), pushed_(std::move(pushed)), missed_(metrics.webhook_missed()) {}

  std::optional<SourcePage> next(bool once) override {
    auto page = pull_.next(once);
    if (!page) return page;
    size_t kept = 0;
    for (simdjson::dom::element e : page->events) {
      std::string_view id;
      if (!e["id"].get_string().get(id) && pushed_->contains(event_key(id))) continue;
      page->events[kept++] = e;
    }
    page->duplicates += page->events.size() - kept;
    page->events.resize(kept);
    missed_.Increment(static_cast<double>(kept));
    return page;
  }
  CommitCost commit(uint64_t token) override { return pull_.commit(token); }

 private:
  Source& pull_;
  std::shared_ptr<const RecentIds> pushed_;
  prometheus::Counter& missed_;
};

}  // namespace zf::source
