// Dataset "text": plain text files, one document per file or per paragraph.
#include <lab/dataset_files.hpp>
#include <lab/error.hpp>
#include <lab/plugin.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

namespace {

namespace fs = std::filesystem;

// ".txt,md" -> {".txt", ".md"}, lower case.
std::vector<std::string> parse_extensions(const std::string& list) {
  std::vector<std::string> extensions;
  std::istringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(std::remove_if(item.begin(), item.end(), [](unsigned char c) { return std::isspace(c); }),
               item.end());
    if (item.empty()) continue;
    if (item[0] != '.') item.insert(0, ".");
    std::transform(item.begin(), item.end(), item.begin(), [](unsigned char c) { return std::tolower(c); });
    extensions.push_back(item);
  }
  return extensions;
}

bool has_extension(const fs::path& file, const std::vector<std::string>& extensions) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return std::find(extensions.begin(), extensions.end(), extension) != extensions.end();
}

fs::path resolve(const std::string& path, const lab::DatasetContext& context) {
  if (path.empty()) throw lab::InputError("text: key 'path' is required (a file or a folder)");
  return lab::resolve_data_path(path, context);
}

// A file as given, or a folder's matching files sorted by relative path.
std::vector<lab::DataFile> list_files(const fs::path& root, const std::string& extension_list) {
  const auto extensions = parse_extensions(extension_list);
  auto files =
      lab::list_data_files("text", root, [&](const fs::path& p) { return has_extension(p, extensions); });
  if (files.empty())
    throw lab::InputError("text: no files ending in " + extension_list + " under " + root.string());
  return files;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw lab::InputError("text: cannot read " + file.string());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw lab::InputError("text: cannot read " + file.string());
  if (text.find('\0') != std::string::npos)
    throw lab::InputError("text: " + file.string() + " is not a text file (it contains NUL bytes)");
  // SentencePiece would take invalid bytes as they are; the corpus would then not round-trip.
  const std::string encoding = lab::utf8_problem(text);
  if (!encoding.empty()) throw lab::InputError("text: " + file.string() + ": " + encoding);
  return text;
}

bool is_blank(const std::string& line) {
  return std::all_of(line.begin(), line.end(), [](unsigned char c) { return std::isspace(c); });
}

// Paragraphs are separated by one or more blank (or whitespace-only) lines.
std::vector<std::string> split_paragraphs(const std::string& text) {
  std::vector<std::string> paragraphs;
  std::string current, line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (is_blank(line)) {
      if (!current.empty()) paragraphs.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (!current.empty()) current += '\n';
    current += line;
  }
  if (!current.empty()) paragraphs.push_back(std::move(current));
  return paragraphs;
}

class TextDataset : public lab::Dataset {
 public:
  TextDataset(const lab::Options& options, const lab::DatasetContext& context)
      : root_(resolve(options.get_string("path"), context)),
        extensions_(options.get_string("extensions")),
        split_(options.get_string("split")),
        files_(list_files(root_, extensions_)) {
    if (split_ != "file" && split_ != "paragraph")
      throw lab::InputError("text: split must be \"file\" or \"paragraph\", got \"" + split_ + "\"");
  }

  std::vector<lab::Document> documents() override {
    std::vector<lab::Document> documents;
    for (const auto& file : files_) {
      std::string text = read_text(file.path);
      if (split_ == "file") {
        if (!is_blank(text)) documents.push_back({file.id, std::move(text)});
        continue;
      }
      const auto paragraphs = split_paragraphs(text);
      for (size_t n = 0; n < paragraphs.size(); ++n)
        documents.push_back({file.id + "#" + std::to_string(n + 1), paragraphs[n]});
    }
    if (documents.empty()) throw lab::InputError("text: no text in " + root_.string());
    return documents;
  }

  std::string describe() const override {
    return "text " + fs::absolute(root_).lexically_normal().string() + " extensions=" + extensions_ +
           " split=" + split_ + " files=" + std::to_string(files_.size()) +
           " bytes=" + std::to_string(lab::total_file_bytes(files_));
  }

 private:
  fs::path root_;
  std::string extensions_;
  std::string split_;
  std::vector<lab::DataFile> files_;
};

lab::DatasetPtr make(const lab::Options& options, const lab::DatasetContext& context) {
  return std::make_shared<TextDataset>(options, context);
}

void validate(const lab::Options& options, const lab::ModelDims&, lab::Problems& problems) {
  if (options.get_string("path").empty()) problems.push_back({"path", "required: a text file or a folder"});
  const std::string& split = options.get_string("split");
  if (split != "file" && split != "paragraph")
    problems.push_back({"split", "must be \"file\" or \"paragraph\", got \"" + split + "\""});
  if (parse_extensions(options.get_string("extensions")).empty())
    problems.push_back({"extensions", "lists no extension"});
}

const lab::PluginDescriptor* descriptor() {
  static const lab::PluginDescriptor plugin = [] {
    lab::PluginDescriptor d;
    d.name = "text";
    d.slot = lab::Slot::Dataset;
    d.description = "plain text files: one document per file or per paragraph";
    d.keys = {
        {"path", lab::Value::of(""), "a text file, or a folder read recursively (relative to the recipe)"},
        {"extensions", lab::Value::of(".txt,.md"), "comma-separated file extensions read from a folder"},
        {"split", lab::Value::of("file"),
         "\"file\": one document per file; \"paragraph\": split at blank lines"},
    };
    d.validate = validate;
    d.make_dataset = make;
    return d;
  }();
  return &plugin;
}

}  // namespace

LAB_PLUGIN(descriptor)
