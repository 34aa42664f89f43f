#include "tools/cli_format.h"

#include <cstdio>

#include "core/numeric.h"

namespace dbkv::cli {

Value TypeArgument(std::string_view word, bool strings_only) {
  if (!strings_only) {
    int64_t i;
    if (ParseInt64(word, &i)) return Value::Int(i);
    // Only plain decimals ("1.10"): words like "1e5" or "Infinity" stay text.
    size_t digits = 0, points = 0;
    for (size_t k = 0; k < word.size(); ++k) {
      char c = word[k];
      if (c >= '0' && c <= '9') {
        ++digits;
      } else if (c == '.') {
        ++points;
      } else if (!(c == '-' && k == 0)) {
        digits = 0;
        break;
      }
    }
    if (digits > 0 && points == 1) {
      auto d = Decimal::Parse(word);
      if (d.ok()) return Value::Dec(*d);
    }
  }
  return Value::String(word);
}

bool SplitLine(std::string_view line, std::vector<Word>* out) {
  out->clear();
  size_t i = 0;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    Word w;
    if (line[i] == '"') {
      w.quoted = true;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < line.size()) {
          char e = line[i++];
          switch (e) {
            case 'n':
              w.text += '\n';
              break;
            case 't':
              w.text += '\t';
              break;
            case 'r':
              w.text += '\r';
              break;
            case 'x':
              if (i + 1 < line.size() && hex(line[i]) >= 0 && hex(line[i + 1]) >= 0) {
                w.text += static_cast<char>(hex(line[i]) * 16 + hex(line[i + 1]));
                i += 2;
              } else {
                w.text += 'x';
              }
              break;
            default:
              w.text += e;
          }
        } else {
          w.text += c;
        }
      }
      if (!closed) return false;
    } else if (line[i] == '\'') {
      w.quoted = true;
      ++i;
      size_t end = line.find('\'', i);
      if (end == std::string_view::npos) return false;
      w.text = std::string(line.substr(i, end - i));
      i = end + 1;
    } else {
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') w.text += line[i++];
    }
    out->push_back(std::move(w));
  }
  return true;
}

namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

std::string Scalar(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return "(nil)";
    case ValueType::kBool:
      return v.AsBool() ? "(true)" : "(false)";
    case ValueType::kInt:
      return "(integer) " + std::to_string(v.AsInt());
    case ValueType::kDouble: {
      char buf[40];
      std::snprintf(buf, sizeof(buf), "(double) %.17g", v.AsDouble());
      return buf;
    }
    case ValueType::kDecimal:
      return "(decimal) " + v.AsDecimal().ToString();
    case ValueType::kString:
      return Quote(v.AsStringView());
    case ValueType::kBytes:
      return "(bytes) " + Quote(v.AsStringView());
    default:
      return "";
  }
}

// The number of item i (from 0) of a list or map, right-aligned in width: indented to its
// parent's text, but for the first item, which follows that text on its line.
void AppendItemNumber(size_t i, size_t width, size_t indent, std::string* out) {
  if (i > 0) out->append(indent, ' ');
  const std::string number = std::to_string(i + 1);
  out->append(width - number.size(), ' ');
  *out += number;
}

// Lists print as "1) ...", maps as "1# key => value"; nested items are indented so that they
// line up under their parent's text, as redis-cli does.
void Render(const Value& v, size_t indent, std::string* out) {
  if (v.type() == ValueType::kList) {
    const ValueList& l = v.AsList();
    if (l.empty()) {
      *out += "(empty array)\n";
      return;
    }
    const size_t width = std::to_string(l.size()).size();
    for (size_t i = 0; i < l.size(); ++i) {
      AppendItemNumber(i, width, indent, out);
      *out += ") ";
      Render(l[i], indent + width + 2, out);
    }
    return;
  }
  if (v.type() == ValueType::kMap) {
    const ValueMap& m = v.AsMap();
    if (m.empty()) {
      *out += "(empty hash)\n";
      return;
    }
    const size_t width = std::to_string(m.size()).size();
    for (size_t i = 0; i < m.size(); ++i) {
      AppendItemNumber(i, width, indent, out);
      std::string key =
          m[i].first.type() == ValueType::kList || m[i].first.type() == ValueType::kMap
              ? m[i].first.DebugString()
              : Scalar(m[i].first);
      *out += "# " + key + " => ";
      Render(m[i].second, indent + width + 2 + key.size() + 4, out);
    }
    return;
  }
  *out += Scalar(v);
  *out += '\n';
}

}  // namespace

std::string FormatReply(const Reply& reply) {
  if (!reply.ok()) {
    std::string text(CodeName(reply.code));
    if (!reply.error.empty()) text += " " + reply.error;
    return "(error) " + text + "\n";
  }
  if (reply.simple) return std::string(reply.value.AsStringView()) + "\n";
  std::string out;
  Render(reply.value, 0, &out);
  return out;
}

}  // namespace dbkv::cli
