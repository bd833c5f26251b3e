#include "report/html.hpp"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace lab {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t n = 0; n < bytes.size(); n += 3) {
    const size_t left = bytes.size() - n;
    uint32_t group = static_cast<uint8_t>(bytes[n]) << 16;
    if (left > 1) group |= static_cast<uint8_t>(bytes[n + 1]) << 8;
    if (left > 2) group |= static_cast<uint8_t>(bytes[n + 2]);
    out += digits[(group >> 18) & 63];
    out += digits[(group >> 12) & 63];
    out += left > 1 ? digits[(group >> 6) & 63] : '=';
    out += left > 2 ? digits[group & 63] : '=';
  }
  return out;
}

std::string png_data_url(const std::filesystem::path& png) {
  std::ifstream in(png, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + png.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return "data:image/png;base64," + base64(bytes.str());
}

std::string markdown_to_html(const std::string& markdown) {
  cmark_gfm_core_extensions_ensure_registered();
  std::unique_ptr<cmark_parser, void (*)(cmark_parser*)> parser(cmark_parser_new(CMARK_OPT_DEFAULT),
                                                                cmark_parser_free);
  if (cmark_syntax_extension* table = cmark_find_syntax_extension("table"))
    cmark_parser_attach_syntax_extension(parser.get(), table);
  cmark_parser_feed(parser.get(), markdown.data(), markdown.size());
  std::unique_ptr<cmark_node, void (*)(cmark_node*)> document(cmark_parser_finish(parser.get()),
                                                              cmark_node_free);
  char* html =
      cmark_render_html(document.get(), CMARK_OPT_DEFAULT, cmark_parser_get_syntax_extensions(parser.get()));
  std::string out(html);
  cmark_get_default_mem_allocator()->free(html);
  return out;
}

std::string script_safe(std::string text) {
  for (size_t at = text.find("</"); at != std::string::npos; at = text.find("</", at + 3))
    text.replace(at, 2, "<\\/");
  return text;
}

}  // namespace lab
