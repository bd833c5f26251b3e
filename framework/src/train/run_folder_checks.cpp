#include "train/run_folder_checks.hpp"

#include "train/checkpoint.hpp"
#include "train/resume_check.hpp"

#include <lab/error.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace lab {

namespace fs = std::filesystem;

void check_run_folder_writable(const Config& config) {
  const fs::path dir = run_directory(config);
  auto where = config.resolved.find("run.dir");
  const std::string prefix =
      (where == config.resolved.end() ? std::string("run.dir") : where->second.where.str() + ": run.dir") +
      ": cannot create " + dir.string() + ": ";
  std::error_code ec;
  // The deepest part of the path that exists must be a folder lab may write in.
  const fs::path existing = existing_part(dir);
  if (!fs::is_directory(existing, ec))
    throw InputError(prefix + existing.string() + " is a file, not a folder");
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw InputError(prefix + existing.string() + ": " + std::strerror(errno));
}

void prepare_resume(const Config& config, TrainOptions& options) {
  const fs::path dir = run_directory(config);
  std::error_code ec;
  if (!options.resume || !fs::is_directory(dir, ec) || fs::exists(dir / "summary.json", ec)) return;
  if (!any_checkpoint(dir / "checkpoint")) {
    std::fprintf(stderr,
                 "lab: warning: %s holds no checkpoint (the run stopped before its first); training starts "
                 "again from step 0\n",
                 dir.string().c_str());
    options.resume = false;
    options.overwrite = true;
    return;
  }
  check_resume_matches(config, dir);
}

fs::path existing_part(const fs::path& dir) {
  std::error_code ec;
  fs::path existing = dir;
  while (!existing.empty() && !fs::exists(existing, ec)) existing = existing.parent_path();
  return existing.empty() ? fs::path(".") : existing;
}

void discard_failed_run(const fs::path& dir, const fs::path& existing) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    if (any_checkpoint(dir / "checkpoint")) return;
    fs::remove_all(dir, ec);
  }
  // The trainer may have removed the run folder itself; the folders made above it go too.
  for (fs::path up = dir.parent_path(); !up.empty() && up != existing && fs::is_empty(up, ec);
       up = up.parent_path())
    fs::remove(up, ec);
}

}  // namespace lab
