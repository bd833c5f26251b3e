#include "registry/registry.hpp"

#include "registry/elf_check.hpp"
#include "registry/messages.hpp"
#include "util/edit_distance.hpp"

#include <lab/error.hpp>

#include <dlfcn.h>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <iostream>
#include <map>
#include <utility>

namespace lab {

namespace detail {

std::string unknown_plugin_message(const std::string& what, const std::string& name,
                                   const std::vector<std::string>& available) {
  std::string message = "no " + what + " '" + name + "'";
  const std::string* best = nullptr;
  size_t best_distance = 3;  // suggest only names within distance 2
  for (const auto& candidate : available) {
    size_t distance = edit_distance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = &candidate;
    }
  }
  if (best) message += "; did you mean '" + *best + "'?";
  message += " (available: ";
  if (available.empty()) message += "none";
  for (size_t n = 0; n < available.size(); ++n) message += (n ? ", " : "") + available[n];
  return message + ")";
}

}  // namespace detail

namespace {

constexpr int kSlotCount = static_cast<int>(Slot::Dataset) + 1;

std::string text_or_empty(const char* text) { return text ? text : ""; }

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// Why dlopen failed, without the file name dlerror() usually repeats in front.
std::string open_failure_reason(const std::filesystem::path& file, const std::error_code& ec) {
  const char* error = dlerror();
  std::string reason = error ? error : ec.message();
  std::string prefix = file.string() + ": ";
  if (reason.compare(0, prefix.size(), prefix) == 0) reason.erase(0, prefix.size());
  return one_line(reason);
}

bool has_factory(const PluginDescriptor& d) {
  switch (d.slot) {
    case Slot::Attention:
      return d.make_attention != nullptr;
    case Slot::Kernel:
      return d.make_kernel != nullptr;
    case Slot::Sparse:
      return d.make_sparse != nullptr;
    case Slot::Rope:
      return d.make_rope != nullptr;
    case Slot::Router:
      return d.make_router != nullptr;
    case Slot::Dataset:
      return d.make_dataset != nullptr;
  }
  return false;
}

// Refuses a descriptor lab cannot use. Only the leading plain-C members are read before the ABI
// version is known to match.
void check_descriptor(const std::filesystem::path& file, const PluginDescriptor* d) {
  const std::string where = file.string() + ": ";
  if (!d) throw InputError(where + LAB_PLUGIN_ENTRY_NAME " returned no descriptor");
  const std::string name = text_or_empty(d->name);
  const std::string plugin = "plugin '" + name + "'";
  if (d->abi_version != LAB_PLUGIN_ABI_VERSION)
    throw InputError(where + plugin + " was built for plugin ABI " + std::to_string(d->abi_version) +
                     "; this lab uses ABI " + std::to_string(LAB_PLUGIN_ABI_VERSION) +
                     ": rebuild it against this lab");
  const std::string torch = text_or_empty(d->torch_version);
  if (torch != TORCH_VERSION)
    throw InputError(where + plugin + " was built against LibTorch " + (torch.empty() ? "(unknown)" : torch) +
                     "; this lab uses LibTorch " TORCH_VERSION ": rebuild it against this lab");
  if (name.empty()) throw InputError(where + "the plugin has an empty name");
  int slot = static_cast<int>(d->slot);
  if (slot < 0 || slot >= kSlotCount)
    throw InputError(where + plugin + " declares unknown slot " + std::to_string(slot));
  if (!has_factory(*d))
    throw InputError(where + plugin + " has no factory for its slot '" + to_string(d->slot) + "'");
}

}  // namespace

struct PluginRegistry::Impl {
  // Declared first so it is destroyed last: descriptors and plugin code live in these libraries.
  std::vector<boost::dll::shared_library> libraries;
  std::map<std::pair<Slot, std::string>, LoadedPlugin> plugins;
};

PluginRegistry::PluginRegistry() : impl_(std::make_unique<Impl>()) {}
PluginRegistry::~PluginRegistry() = default;

void PluginRegistry::load_directories(const std::vector<std::filesystem::path>& dirs) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string filename = entry.path().filename().string();
      const bool named_like_plugin = filename.size() > 14 && filename.rfind("lab_plugin_", 0) == 0 &&
                                     filename.compare(filename.size() - 3, 3, ".so") == 0;
      std::error_code type_ec;
      if (named_like_plugin && entry.is_regular_file(type_ec)) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());  // directory order is arbitrary; loading order decides duplicates
    for (const auto& file : files) load_file(file);
  }
}

void PluginRegistry::load_file(const std::filesystem::path& file) {
  const std::string damage = elf_file_problem(file);
  if (!damage.empty()) throw InputError(file.string() + ": cannot be opened as a plugin library: " + damage);
  boost::dll::shared_library library;
  std::error_code ec;
  dlerror();  // clear a stale message so the reason below is this file's
  // RTLD_NODELETE: a plugin's code and type information must outlive everything it created, including
  // an exception thrown by its factory that is still in flight when the registry that opened it is
  // destroyed. Closing the handle then leaves the library mapped for the life of the process.
  const auto mode = static_cast<boost::dll::load_mode::type>(
      boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local | RTLD_NODELETE);
  library.load(file, mode, ec);
  if (ec || !library.is_loaded())
    throw InputError(file.string() +
                     ": cannot be opened as a plugin library: " + open_failure_reason(file, ec));
  if (!library.has(LAB_PLUGIN_ENTRY_NAME))
    throw InputError(file.string() + " is not a lab plugin: it exports no " LAB_PLUGIN_ENTRY_NAME);

  PluginEntry& entry = library.get_alias<PluginEntry>(LAB_PLUGIN_ENTRY_NAME);
  const PluginDescriptor* descriptor = entry();
  check_descriptor(file, descriptor);

  auto key = std::make_pair(descriptor->slot, std::string(descriptor->name));
  auto existing = impl_->plugins.find(key);
  if (existing != impl_->plugins.end()) {
    // The same library reached twice (dlopen hands back the same handle): nothing new.
    if (existing->second.descriptor == descriptor) return;
    std::cerr << "lab: warning: " << to_string(descriptor->slot) << " plugin '" << key.second << "' in "
              << file.string() << " duplicates the one in " << existing->second.file.string() << "; using "
              << existing->second.file.string() << "\n";
  } else {
    impl_->plugins.emplace(key, LoadedPlugin{descriptor, file});
  }
  // Kept open even when unused; with RTLD_NODELETE the library stays mapped after this handle closes.
  impl_->libraries.push_back(std::move(library));
}

const LoadedPlugin* PluginRegistry::find(Slot slot, const std::string& name) const {
  auto it = impl_->plugins.find(std::make_pair(slot, name));
  return it == impl_->plugins.end() ? nullptr : &it->second;
}

const PluginDescriptor& PluginRegistry::require(Slot slot, const std::string& name) const {
  if (const LoadedPlugin* plugin = find(slot, name)) return *plugin->descriptor;
  throw InputError(
      detail::unknown_plugin_message(std::string(to_string(slot)) + " plugin", name, names(slot)));
}

std::vector<const LoadedPlugin*> PluginRegistry::all() const {
  std::vector<const LoadedPlugin*> out;
  for (const auto& entry : impl_->plugins) out.push_back(&entry.second);  // map order: slot, then name
  return out;
}

std::vector<std::string> PluginRegistry::names(Slot slot) const {
  std::vector<std::string> out;
  for (const auto& entry : impl_->plugins)
    if (entry.first.first == slot) out.push_back(entry.first.second);
  return out;
}

}  // namespace lab
