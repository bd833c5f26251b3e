// DSA at inference as ONNX nodes: the indexer's scores, TopK over them, attention over the selection.
#pragma once

#include <lab/onnx_graph.hpp>

#include <cstdint>
#include <string>

namespace dsa {

// Attention of q [B, H, T, Dqk] over the top_k keys of each query by `scores` [B, T, S] (-inf for later
// keys), every causal key when a query has no more than top_k: select_keys() and sparse_attention().
// TopK, like select_keys, breaks ties towards the earlier key.
std::string selected_attention_onnx(lab::OnnxGraph& g, const std::string& scores, const std::string& q,
                                    const std::string& k, const std::string& v, double scale, int64_t top_k);

}  // namespace dsa
