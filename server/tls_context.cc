#include "server/tls_context.h"

#include <openssl/ssl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dbkv {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// OpenSSL 3 reports a file it cannot open as a system error that Asio prints as just
// "asio.ssl error": say why first.
Status CheckReadable(const char* flag, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    return Status::InvalidArgument(std::string(flag) + " " + path + ": " + std::strerror(errno));
  }
  std::fclose(f);
  return Status::OK();
}

}  // namespace

Status MakeTlsContext(const ServerOptions& o, std::unique_ptr<asio::ssl::context>* out) {
  Status readable = CheckReadable("--tls-cert", o.tls_cert);
  if (readable.ok()) readable = CheckReadable("--tls-key", o.tls_key);
  if (readable.ok() && !o.tls_ca.empty()) readable = CheckReadable("--tls-ca", o.tls_ca);
  if (!readable.ok()) return readable;
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  if (!ec) SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (!ec) ctx->use_certificate_chain_file(o.tls_cert, ec);
  if (ec) return Status::InvalidArgument("--tls-cert " + o.tls_cert + ": " + ec.message());
  ctx->use_private_key_file(o.tls_key, asio::ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("--tls-key " + o.tls_key + ": " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::InvalidArgument("--tls-key does not match --tls-cert");
  }
  if (!o.tls_ca.empty()) {
    ctx->load_verify_file(o.tls_ca, ec);
    if (ec) return Status::InvalidArgument("--tls-ca " + o.tls_ca + ": " + ec.message());
    ctx->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  *out = std::move(ctx);
  return Status::OK();
}

}  // namespace dbkv
