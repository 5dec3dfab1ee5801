#pragma once
// What making one commit durable cost: reported by the source that owns the
// checkpoint, timed and counted by the pipeline's committer.
#include <cstddef>

namespace zf {

struct CommitCost {
  size_t bytes = 0;  // written: state file plus appended ids
  double ms = 0;
};

}  // namespace zf
