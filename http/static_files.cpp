// A fixed list of files, so that no part of a URL is ever joined to a filesystem path.
#include "http/static_files.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"

namespace livegate {
namespace {

struct Entry {
  const char* url;
  const char* file;  // relative to the www folder
  const char* type;
};

constexpr Entry kFiles[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/index.html", "index.html", "text/html; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/style.css", "style.css", "text/css; charset=utf-8"},
    {"/operator.html", "operator.html", "text/html; charset=utf-8"},
    {"/operator.js", "operator.js", "text/javascript; charset=utf-8"},
    {"/operator.css", "operator.css", "text/css; charset=utf-8"},
    {"/chart.js", "chart.js", "text/javascript; charset=utf-8"},
    {"/hls.min.js", "node_modules/hls.js/dist/hls.min.js", "text/javascript; charset=utf-8"},
};

}  // namespace

StaticFiles StaticFiles::load(const std::string& www_dir) {
  StaticFiles out;
  for (const Entry& e : kFiles) {
    const std::filesystem::path path = std::filesystem::path(www_dir) / e.file;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      log_warn("http", "player file missing: " + path.string() + " (run deploy/install-deps.sh)");
      continue;
    }
    std::ostringstream body;
    body << in.rdbuf();
    out.files_[e.url] = StaticFile{e.type, body.str()};
  }
  return out;
}

const StaticFile* StaticFiles::find(const std::string& url_path) const {
  auto it = files_.find(url_path);
  return it == files_.end() ? nullptr : &it->second;
}

std::string default_www_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const auto& candidate : {exe.parent_path().parent_path() / "www", exe.parent_path() / "www",
                                  std::filesystem::path("/usr/share/livegate/www")}) {
      if (std::filesystem::exists(candidate / "index.html", ec)) return candidate.string();
    }
  }
  return "www";
}

}  // namespace livegate
