#include "sources/zendesk_pull/pull_type.h"

#include <sstream>

#include "sources/zendesk_pull/pull_run.h"

namespace zf::source {

SourceType zendesk_pull_type() {
  SourceType t;
  t.name = "zendesk_pull";
  t.polled = true;
  t.keeps_position = true;
  // Every key of `defaults:` no other type lists: a misspelt one is then
  // refused in each entry, by its name.
  t.default_keys = std::nullopt;
  t.read = [](const ConfigNode& item, ConfigNotes& notes) {
    auto c = std::make_shared<PullSourceConfig>();
    read_pull_source(item, *c, notes);
    c->checkpoint_path = item.child("checkpoint").require_string("path");
    item.reject_unknown_keys();
    return std::shared_ptr<SourceEntry>(c);
  };
  t.check = [](const SourceEntry& entry, const SourceEntries& all, const ConfigNode& item) {
    const auto& c = static_cast<const PullSourceConfig&>(entry);
    if (c.dedup_with.empty()) return;
    for (const auto& other : all)
      if (other->name == c.dedup_with && other->type == "zendesk_webhook") return;
    item.fail("dedup_with", "names no zendesk_webhook source: " + item.shown("dedup_with", c.dedup_with));
  };
  t.describe = [](const SourceEntry& entry) {
    const auto& c = static_cast<const PullSourceConfig&>(entry);
    std::ostringstream out;
    out << "zendesk_pull, account " << c.account << ", budget " << c.rate_limit_requests << " requests per "
        << c.rate_limit_period.count() / 1000.0 << " s, checkpoint " << c.checkpoint_path
        << (c.enrich_users ? ", names from the Users API" : "");
    return out.str();
  };
  t.build = [](const SourceEntry& entry, RunContext& ctx, RunLinks& links, bool coordinated) -> std::unique_ptr<Run> {
    const auto& c = static_cast<const PullSourceConfig&>(entry);
    std::shared_ptr<RecentIds> pushed = c.dedup_with.empty() ? nullptr : links.delivered.at(c.dedup_with);
    return std::make_unique<PullRun>(c, ctx, std::move(pushed), coordinated);
  };
  return t;
}

}  // namespace zf::source
