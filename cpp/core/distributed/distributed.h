// Data-parallel training over PyTorch's c10d: a process group (TCPStore rendezvous, Gloo
// collectives on the CPU) and a gradient reducer that all-reduces (averages) gradients in buckets,
// each bucket launched from an autograd hook as soon as its last gradient is ready, so
// communication overlaps the rest of backward. Every failure (a dead peer, a wrong master
// address, a timeout) is a CoreError with code ERR_DISTRIBUTED.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace c10d {
class ProcessGroup;
class Store;
class Work;
}  // namespace c10d

namespace liverseg {

struct DistributedOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_host;
  int master_port = 0;
  std::chrono::milliseconds timeout{60000};
  // Gradient bytes per all-reduce bucket (PyTorch DDP's default is 25 MiB).
  int64_t bucket_bytes = 25 << 20;
};

// Whether this build has c10d (false when the Gloo headers were missing at build time).
bool distributed_available();

class ProcessGroupContext {
 public:
  // Rendezvous: rank 0 serves the TCPStore at master_host:master_port; all ranks connect to it
  // and build a Gloo process group. Throws ERR_DISTRIBUTED when the peers are not all there
  // within the timeout.
  explicit ProcessGroupContext(const DistributedOptions& options);
  ~ProcessGroupContext();

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  const DistributedOptions& options() const { return options_; }

  // In-place sum over ranks (blocking).
  void all_reduce_sum(torch::Tensor& t);
  // Rank 0's values to every rank, in place (blocking).
  void broadcast(std::vector<torch::Tensor>& tensors);
  void barrier();

  // Starts an in-place sum (the reducer's buckets); wait() on the result.
  c10::intrusive_ptr<c10d::Work> all_reduce_async(torch::Tensor& t);
  // Waits for a started collective; ERR_DISTRIBUTED on failure or timeout.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const char* what);

 private:
  DistributedOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> group_;
};

// Averages the gradients of `params` over the ranks of a process group. Use per step:
// prepare() before backward, finish() after it (which waits and writes the averaged gradients).
class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<ProcessGroupContext> group, std::vector<torch::Tensor> params);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  void prepare();
  void finish();
  size_t bucket_count() const { return buckets_.size(); }
  const std::shared_ptr<ProcessGroupContext>& group() const { return group_; }

 private:
  struct Bucket {
    std::vector<size_t> params;   // indices into params_
    std::vector<int64_t> offset;  // element offset of each in flat
    torch::Tensor flat;
    size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
    bool launched = false;
  };
  void on_grad(size_t param, const torch::Tensor& grad);
  void launch_ready();

  std::shared_ptr<ProcessGroupContext> group_;
  std::vector<torch::Tensor> params_;
  std::vector<std::pair<size_t, size_t>> where_;  // param -> (bucket, slot)
  std::vector<bool> seen_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hooks_;
  size_t next_launch_ = 0;
  bool active_ = false;
  std::string failure_;
  std::mutex mutex_;
};

}  // namespace liverseg
