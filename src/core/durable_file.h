#pragma once
// Writing the state files beside a checkpoint (the checkpoint itself, the
// delivery ledger, push's delivered ids) so a crash leaves the old content
// or the new, never a mix.
#include <string>
#include <string_view>

namespace zf::source {

// All of `data` to `fd`; throws std::runtime_error naming `path`.
void write_all(int fd, std::string_view data, const std::string& path);

// Writes `data` to path + ".tmp" (a file planted there, such as a symlink to
// a victim, is removed, not followed), syncs it, renames it over `path` and
// syncs the directory. Throws std::runtime_error naming the step and file.
void replace_file(const std::string& path, std::string_view data);

}  // namespace zf::source
