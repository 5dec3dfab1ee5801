#pragma once
// What making one commit durable cost: reported by the source that owns the
// checkpoint, timed and counted by the pipeline's committer. The pull
// source's ids are written (and synced) when their page is fetched, not by
// the commit, so they are in neither figure.
#include <cstddef>

namespace zf {

struct CommitCost {
  size_t bytes = 0;  // the state written (a few hundred bytes for a pull source)
  double ms = 0;
};

}  // namespace zf
