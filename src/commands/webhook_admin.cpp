#include "commands/webhook_admin.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iostream>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"

namespace zf::app {

namespace {

constexpr const char* kEventType = "zen:event-type:access_log.created";

struct Answer {
  long status = 0;
  std::string body, error;
};

Answer call(const std::string& method, const std::string& url, const std::string& authorization,
            const std::string& body = "") {
  Answer a;
  CURL* curl = curl_easy_init();
  if (!curl) return {0, "", "libcurl could not start"};
  curl_slist* headers = curl_slist_append(nullptr, ("Authorization: " + authorization).c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char* d, size_t s, size_t n, void* out) {
    static_cast<std::string*>(out)->append(d, s * n);
    return s * n;
  });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  if (rc != CURLE_OK) a.error = curl_easy_strerror(rc);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return a;
}

nlohmann::json expect(const Answer& a, const std::string& what) {
  if (!a.error.empty()) throw FatalError(what + ": " + a.error + " (check the network and zendesk.base_url)");
  if (a.status == 401 || a.status == 403)
    throw FatalError(what + ": HTTP " + std::to_string(a.status) + ": the credentials need an admin who may manage webhooks");
  if (a.status / 100 != 2) throw FatalError(what + ": HTTP " + std::to_string(a.status) + ": " + a.body.substr(0, 200));
  if (a.body.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(a.body, nullptr, false);
  if (j.is_discarded()) throw FatalError(what + ": the answer is not JSON");
  return j;
}

// Zendesk's public event-type reference does not list the access-log
// event, so an account may not offer it: creating (or updating) a webhook
// subscribed to it is then refused with 400/422 and an error about the
// subscription or event type. That is not a fault to retry but a fact of the
// account, said once, plainly.
bool refuses_subscription(const Answer& a) {
  if (a.status != 400 && a.status != 422) return false;
  std::string body = a.body;
  std::transform(body.begin(), body.end(), body.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"subscription", "event type", "event_type", "event-type", "access_log"})
    if (body.find(word) != std::string::npos) return true;
  return false;
}

// The first error's detail (or title) Zendesk gave, else the body's start.
std::string error_detail(const Answer& a) {
  auto j = nlohmann::json::parse(a.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() && j["errors"][0].is_object()) {
    const auto& e = j["errors"][0];
    for (const char* key : {"detail", "title"})
      if (e.contains(key) && e[key].is_string()) return e[key].get<std::string>();
  }
  if (j.is_object() && j.contains("description") && j["description"].is_string()) return j["description"].get<std::string>();
  return a.body.substr(0, 200);
}

nlohmann::json expect_subscription(const Answer& a, const std::string& what, const std::string& account) {
  if (a.error.empty() && refuses_subscription(a))
    throw FatalError(what + ": Zendesk refused the subscription to " + std::string(kEventType) + " (HTTP " +
                     std::to_string(a.status) + ": " + error_detail(a) + "). Account " + account +
                     " does not offer access-log webhooks, so push cannot work there; the pull source "
                     "(type zendesk_pull) does not need it and keeps working: leave the zendesk_webhook source out "
                     "of the config, or ask Zendesk to enable the event on the account");
  return expect(a, what);
}

std::optional<nlohmann::json> find_named(const std::string& base, const std::string& auth, const std::string& name) {
  char* q = curl_easy_escape(nullptr, name.c_str(), static_cast<int>(name.size()));
  std::string url = base + "/api/v2/webhooks?filter%5Bname_contains%5D=" + q;
  curl_free(q);
  nlohmann::json list = expect(call("GET", url, auth), "listing the account's webhooks");
  for (const auto& w : list.value("webhooks", nlohmann::json::array()))
    if (w.value("name", "") == name) return w;
  return std::nullopt;
}

}  // namespace

int run_webhook_admin(const AppConfig& config, const WebhookAdminOptions& o, Logger& log) {
  const PullSourceConfig& c = pull_source(config, o.source);
  const std::string& base = c.source.base_url;
  const std::string& auth = c.source.authorization;
  auto existing = find_named(base, auth, o.name);
  if (o.action == "status") {
    if (!existing) {
      std::cout << "no webhook named \"" << o.name << "\" in account " << c.account
                << " (zendesk-forwarder webhook register --url ... creates it)\n";
      return 1;
    }
    const auto& w = *existing;
    std::cout << "webhook " << w.value("id", "?") << " \"" << o.name << "\" in account " << c.account << ": "
              << w.value("status", "?") << ", POSTs to " << w.value("endpoint", "?") << ", subscriptions "
              << w.value("subscriptions", nlohmann::json::array()).dump() << "\n";
    return 0;
  }
  if (o.url.rfind("https://", 0) != 0) throw FatalError("--url must be https://...: Zendesk posts only to HTTPS endpoints");
  nlohmann::json fields = {{"endpoint", o.url}, {"status", "active"}, {"subscriptions", {kEventType}}};
  std::string id;
  if (existing) {
    id = existing->value("id", "");
    expect_subscription(call("PATCH", base + "/api/v2/webhooks/" + id, auth, nlohmann::json({{"webhook", fields}}).dump()),
                        "updating webhook " + id, c.account);
    log.info("webhook updated", {{"id", id}, {"endpoint", o.url}});
  } else {
    fields["name"] = o.name;
    fields["http_method"] = "POST";
    fields["request_format"] = "json";
    auto created = expect_subscription(
        call("POST", base + "/api/v2/webhooks", auth, nlohmann::json({{"webhook", fields}}).dump()), "creating the webhook",
        c.account);
    id = created["webhook"].value("id", "");
    log.info("webhook created", {{"id", id}, {"endpoint", o.url}});
  }
  auto secret = expect(call("GET", base + "/api/v2/webhooks/" + id + "/signing_secret", auth), "reading the signing secret");
  std::string value = secret["signing_secret"].value("secret", "");
  if (value.empty()) throw FatalError("the Webhooks API returned no signing secret for webhook " + id);
  // Mode 600 from the start: the secret is never readable by others, even briefly.
  int fd = ::open(o.secret_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0 || ::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size()) ||
      ::close(fd) != 0)
    throw FatalError("cannot write the signing secret to " + o.secret_file + ": check the directory is writable");
  std::cout << "webhook " << id << " \"" << o.name << "\" in account " << c.account << " POSTs access_log.created to "
            << o.url << "\nits signing secret is in " << o.secret_file
            << " (mode 600). Store it where the forwarder reads it, then delete the file:\n"
            << "  kubectl create secret generic zendesk-forwarder-webhook --from-file=signing-secret=" << o.secret_file
            << "\n  or, on a host: signing_secret_file: <a root-only path> in the zendesk_webhook source\n";
  return 0;
}

}  // namespace zf::app
