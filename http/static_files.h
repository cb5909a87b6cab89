// The web pages' files, read once at start-up into memory: requests never touch the filesystem.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/result.h"

namespace livegate {

struct StaticFile {
  std::string content_type;
  std::string body;
};

class StaticFiles {
 public:
  // Loads the known files of `www_dir` (the player: index.html, app.js, style.css and hls.js from
  // its npm package; the operator view: operator.html, operator.js, operator.css, chart.js) under
  // their URL paths. A missing file is logged and left out.
  static StaticFiles load(const std::string& www_dir);

  const StaticFile* find(const std::string& url_path) const;
  size_t size() const noexcept { return files_.size(); }

 private:
  std::map<std::string, StaticFile> files_;
};

// The www folder next to the binary's source tree (build/livegate -> www/), else ./www.
std::string default_www_dir();

}  // namespace livegate
