// The plugin ABI: one exported entry point per library returns a PluginDescriptor.
#pragma once

#include <lab/attention.hpp>
#include <lab/dataset.hpp>
#include <lab/dims.hpp>
#include <lab/kernel.hpp>
#include <lab/options.hpp>
#include <lab/rope.hpp>
#include <lab/router.hpp>
#include <lab/sparse.hpp>

#include <torch/version.h>
#include <boost/dll/alias.hpp>

#include <string>
#include <vector>

// Bumped whenever PluginDescriptor or a slot interface changes layout or meaning.
#define LAB_PLUGIN_ABI_VERSION 4
// The symbol the loader looks up in every plugin library.
#define LAB_PLUGIN_ENTRY_NAME "lab_plugin_entry"

namespace lab {

enum class Slot { Attention, Kernel, Sparse, Rope, Router, Dataset };

const char* to_string(Slot slot);

using AttentionFactory = AttentionPtr (*)(const Options&, const ModelDims&);
using KernelFactory = KernelPtr (*)(const Options&);
using SparseFactory = SparsePtr (*)(const Options&, const ModelDims&);
using RopeFactory = RopePtr (*)(const Options&, const RopeDims&);
using RouterFactory = RouterPtr (*)(const Options&, const ModelDims&);
using DatasetFactory = DatasetPtr (*)(const Options&, const DatasetContext&);
// Reports impossible settings (shape mismatches, out-of-range values) before anything runs.
using Validator = void (*)(const Options&, const ModelDims&, Problems&);

struct PluginDescriptor {
  // These three come first and are plain C data, so the loader can read them from a library built
  // against any ABI version before touching the rest.
  int abi_version = LAB_PLUGIN_ABI_VERSION;
  const char* torch_version = TORCH_VERSION;
  const char* name = "";

  Slot slot = Slot::Attention;
  const char* description = "";
  std::vector<KeySpec> keys;
  Validator validate = nullptr;

  // Exactly the factory of `slot` is set.
  AttentionFactory make_attention = nullptr;
  KernelFactory make_kernel = nullptr;
  SparseFactory make_sparse = nullptr;
  RopeFactory make_rope = nullptr;
  RouterFactory make_router = nullptr;
  DatasetFactory make_dataset = nullptr;
};

using PluginEntry = const PluginDescriptor*();

}  // namespace lab

// Exports `fn` (returning const lab::PluginDescriptor*) as the library's entry point.
#define LAB_PLUGIN(fn) BOOST_DLL_ALIAS(fn, lab_plugin_entry)
