#include "distributed.h"

#include <cstdlib>

#include "../errors.h"

#ifdef LIVERSEG_WITH_C10D
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace liverseg {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) { throw CoreError("ERR_DISTRIBUTED", "Distributed training: " + what + ": " + why); }

// The message of the exception being handled, without LibTorch's backtrace.
std::string current_message() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

std::string seconds(std::chrono::milliseconds t) { return c10::str(static_cast<double>(t.count()) / 1000.0, " s"); }

}  // namespace

#ifdef LIVERSEG_WITH_C10D

bool distributed_available() { return true; }

ProcessGroupContext::ProcessGroupContext(const DistributedOptions& o) : options_(o) {
  require(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size, "Invalid argument 'rank': expected 0 <= rank < worldSize");
  require(o.master_port > 0 && o.master_port < 65536, "Invalid argument 'master': port out of range");
  const std::string where = o.master_host + ":" + std::to_string(o.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.master_port);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<size_t>(o.world_size);
    so.waitWorkers = true;
    so.timeout = o.timeout;
    store_ = c10::make_intrusive<c10d::TCPStore>(o.master_host, so);
  } catch (...) {
    fail(o.rank == 0 ? "rank 0 could not serve the rendezvous at " + where + " or not all " + std::to_string(o.world_size) + " ranks joined within " +
                           seconds(o.timeout)
                     : "rank " + std::to_string(o.rank) + " could not reach the master at " + where + " within " + seconds(o.timeout),
         current_message());
  }
  try {
    auto go = c10d::ProcessGroupGloo::Options::create(o.timeout);
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifname && *ifname) {
      go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (o.master_host == "127.0.0.1" || o.master_host == "localhost") {
      go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    go->threads = 1;
    group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, o.rank, o.world_size, go);
  } catch (...) {
    fail("the Gloo process group of " + std::to_string(o.world_size) + " ranks (master " + where + ") did not form", current_message());
  }
}

ProcessGroupContext::~ProcessGroupContext() = default;

c10::intrusive_ptr<c10d::Work> ProcessGroupContext::all_reduce_async(torch::Tensor& t) {
  std::vector<torch::Tensor> v{t};
  c10d::AllreduceOptions ao;
  ao.reduceOp = c10d::ReduceOp::SUM;
  ao.timeout = options_.timeout;
  return group_->allreduce(v, ao);
}

void ProcessGroupContext::wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what) {
  try {
    if (!work->wait(options_.timeout)) fail(what, "timed out after " + seconds(options_.timeout));
  } catch (const CoreError&) {
    throw;
  } catch (...) {
    fail(std::string(what) + " on rank " + std::to_string(options_.rank) + " failed (a peer may have died)", current_message());
  }
}

void ProcessGroupContext::all_reduce_sum(torch::Tensor& t) {
  c10::intrusive_ptr<c10d::Work> w;
  try {
    w = all_reduce_async(t);
  } catch (...) {
    fail("all-reduce", current_message());
  }
  wait(w, "all-reduce");
}

void ProcessGroupContext::broadcast(std::vector<torch::Tensor>& tensors) {
  for (auto& t : tensors) {
    std::vector<torch::Tensor> v{t};
    c10d::BroadcastOptions bo;
    bo.rootRank = 0;
    bo.timeout = options_.timeout;
    c10::intrusive_ptr<c10d::Work> w;
    try {
      w = group_->broadcast(v, bo);
    } catch (...) {
      fail("broadcast", current_message());
    }
    wait(w, "broadcast");
  }
}

void ProcessGroupContext::barrier() {
  c10d::BarrierOptions bo;
  bo.timeout = options_.timeout;
  c10::intrusive_ptr<c10d::Work> w;
  try {
    w = group_->barrier(bo);
  } catch (...) {
    fail("barrier", current_message());
  }
  wait(w, "barrier");
}

#else

bool distributed_available() { return false; }

ProcessGroupContext::ProcessGroupContext(const DistributedOptions& o) : options_(o) {
  fail("unavailable", "this build of liverseg has no c10d (rebuild with the Gloo headers installed, e.g. Debian's libgloo-dev)");
}
ProcessGroupContext::~ProcessGroupContext() = default;
c10::intrusive_ptr<c10d::Work> ProcessGroupContext::all_reduce_async(torch::Tensor&) { fail("all-reduce", "unavailable"); }
void ProcessGroupContext::wait(const c10::intrusive_ptr<c10d::Work>&, const char* what) { fail(what, "unavailable"); }
void ProcessGroupContext::all_reduce_sum(torch::Tensor&) { fail("all-reduce", "unavailable"); }
void ProcessGroupContext::broadcast(std::vector<torch::Tensor>&) { fail("broadcast", "unavailable"); }
void ProcessGroupContext::barrier() { fail("barrier", "unavailable"); }

#endif

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroupContext> group, std::vector<torch::Tensor> params)
    : group_(std::move(group)), params_(std::move(params)) {
  // Buckets in reverse parameter order: backward produces the last layers' gradients first.
  const int64_t cap = std::max<int64_t>(1, group_->options().bucket_bytes);
  where_.resize(params_.size());
  seen_.assign(params_.size(), false);
  int64_t bytes = cap;
  for (size_t k = params_.size(); k-- > 0;) {
    const auto& p = params_[k];
    const int64_t nbytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (buckets_.empty() || (bytes + nbytes > cap && !buckets_.back().params.empty())) {
      buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = buckets_.back();
    where_[k] = {buckets_.size() - 1, b.params.size()};
    b.offset.push_back(b.params.empty() ? 0 : b.offset.back() + params_[b.params.back()].numel());
    b.params.push_back(k);
    bytes += nbytes;
  }
  for (auto& b : buckets_) {
    const int64_t n = b.offset.back() + params_[b.params.back()].numel();
    b.flat = torch::zeros({n}, params_[b.params.front()].options().requires_grad(false));
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    hooks_.push_back(params_[k].register_hook([this, k](const torch::Tensor& grad) { on_grad(k, grad); }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < params_.size() && k < hooks_.size(); ++k) {
    try {
      params_[k].remove_hook(hooks_[k]);
    } catch (...) {
    }
  }
}

void GradientReducer::prepare() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& b : buckets_) {
    b.pending = b.params.size();
    b.launched = false;
    b.work.reset();
  }
  seen_.assign(params_.size(), false);
  next_launch_ = 0;
  failure_.clear();
  active_ = true;
}

void GradientReducer::on_grad(size_t k, const torch::Tensor& grad) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!active_ || seen_[k] || !failure_.empty()) return;
  seen_[k] = true;
  auto [bi, slot] = where_[k];
  Bucket& b = buckets_[bi];
  torch::NoGradGuard no_grad;
  b.flat.narrow(0, b.offset[slot], grad.numel()).copy_(grad.reshape({-1}));
  --b.pending;
  launch_ready();
}

void GradientReducer::launch_ready() {
  // Gloo pairs collectives by order: every rank launches bucket i before bucket i + 1.
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    Bucket& b = buckets_[next_launch_++];
    try {
      b.work = group_->all_reduce_async(b.flat);
      b.launched = true;
    } catch (...) {
      if (failure_.empty()) failure_ = current_message();
      return;
    }
  }
}

void GradientReducer::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    active_ = false;
    // Parameters that got no gradient this step contribute zeros (every rank launches every bucket).
    for (size_t k = 0; k < params_.size(); ++k) {
      if (seen_[k]) continue;
      auto [bi, slot] = where_[k];
      Bucket& b = buckets_[bi];
      b.flat.narrow(0, b.offset[slot], params_[k].numel()).zero_();
      --b.pending;
      seen_[k] = true;
    }
    if (failure_.empty()) launch_ready();
    if (!failure_.empty()) fail("gradient all-reduce on rank " + std::to_string(group_->rank()) + " failed", failure_);
  }
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) {
    group_->wait(b.work, "gradient all-reduce");
    b.flat.div_(static_cast<double>(group_->world_size()));
    for (size_t s = 0; s < b.params.size(); ++s) {
      torch::Tensor& p = params_[b.params[s]];
      torch::Tensor avg = b.flat.narrow(0, b.offset[s], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(avg);
      } else {
        p.mutable_grad() = avg.clone();
      }
    }
  }
}

}  // namespace liverseg
