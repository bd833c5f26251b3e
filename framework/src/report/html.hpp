// Small pieces of a self-contained HTML page: escaping, base64 data URLs, Markdown tables.
#pragma once

#include <filesystem>
#include <string>

namespace lab {

std::string html_escape(const std::string& text);
std::string base64(const std::string& bytes);
// A data: URL holding the file's bytes, so the page needs no file beside it.
std::string png_data_url(const std::filesystem::path& png);
// GitHub-flavoured Markdown (tables included) as HTML, through cmark-gfm.
std::string markdown_to_html(const std::string& markdown);
// Text placed inside <script>: "</" would end the element early.
std::string script_safe(std::string text);

}  // namespace lab
