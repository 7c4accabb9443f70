// SPDX-License-Identifier: MIT
/// @file mpi.hpp
/// @brief Flows sharded over MPI ranks: each rank holds a block of the particles and a block of
///        the targets; kernel sums pass the source blocks around a ring (gfd::mpi::ring_evaluator)
///        and merge partial sums in the log domain; what needs the whole cloud is reduced.
///
/// Optional component (CMake `GFD_MPI`, target `gfd::mpi`; needs an MPI library such as Open MPI,
/// Debian `libopenmpi-dev`). Not in gfd.hpp. Every function here that communicates is
/// collective: call it on every rank of the communicator, in the same order.
///
/// How a run is split (gfd::mpi::flow):
/// - **Sharded** (the local divergences: every f-divergence, MMD, their mixtures): each rank
///   computes the velocity of its own particles. Each kernel-sum pass is a ring of P rounds: a
///   rank sums its queries against the source block it holds (prepared with the inner
///   evaluator: exact, tree or grid), and meanwhile sends that block to the next rank and
///   receives the next one from the previous rank (non-blocking, overlapping the sums); partial
///   log-sums and fields are merged exactly (log-add-exp, softmax-weighted fields). Per step a
///   rank receives (N + M) d numbers per pass and computes N (N + M) d / P pair terms.
/// - **Replicated** (the drifting fields, the transport flows, the exact smoothed flow: their
///   velocity couples every particle with every other through normalisations, Sinkhorn
///   iterations or sorting): the particles are gathered on every rank (allgather), each rank
///   computes the whole cloud's velocity and keeps its own columns. Same answer, no speed-up.
/// - The bandwidth schedule runs on rank 0 over the gathered targets (and the gathered particles
///   where a rule or the automatic annealing start needs them) and is broadcast each step; the
///   estimate, the mean displacement, finiteness and the observer's verdict are reduced, so
///   every rank takes the same steps and stops at the same one.
///
/// A run on P ranks equals the single-process run to round-off (the sums are added in another
/// order; tests/mpi: 1e-12 relative in double with the exact evaluator, for P = 1 to 4). The
/// tree and grid evaluators keep their tolerance per block, so their results agree with the
/// single-process run within that tolerance, not to round-off.
///
/// Errors: gfd::mpi::flow checks its inputs on every rank and, if any rank's are bad, throws the
/// same gfd::invalid_argument on every rank (the message names the rank). A velocity or particle
/// that becomes non-finite makes every rank throw gfd::numerical_error at that step. Anything
/// else that throws on one rank only (out of memory) leaves the others waiting in the next
/// collective: a program should end with MPI_Abort on an exception it does not handle, as the
/// gfd tool does.
#pragma once

#include <mpi.h>

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/bound_kernel.hpp"
#include "core/evaluator.hpp"
#include "core/sums.hpp"
#include "error.hpp"
#include "evaluators/exact.hpp"
#include "flow.hpp"

namespace gfd::mpi {

/// The MPI datatype of a scalar type.
template <class Scalar>
[[nodiscard]] MPI_Datatype datatype() noexcept {
  if constexpr (std::is_same_v<Scalar, double>)
    return MPI_DOUBLE;
  else
    return MPI_FLOAT;
}

/// The columns [first, last) of n that rank `rank` of `size` holds in gfd's even split: the first
/// n mod size ranks one more than the others.
[[nodiscard]] inline std::pair<Eigen::Index, Eigen::Index> shard_range(Eigen::Index n, int rank, int size) {
  const Eigen::Index base = n / size, extra = n % size;
  const Eigen::Index first = rank * base + std::min<Eigen::Index>(rank, extra);
  return {first, first + base + (rank < extra ? 1 : 0)};
}

/// A view of an MPI communicator (not owned: MPI_COMM_WORLD by default) with the few collective
/// operations gfd needs. Copies are cheap and refer to the same communicator.
class communicator {
public:
  explicit communicator(MPI_Comm comm = MPI_COMM_WORLD) : comm_(comm) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
  }
  [[nodiscard]] MPI_Comm get() const noexcept { return comm_; }
  [[nodiscard]] int rank() const noexcept { return rank_; }
  [[nodiscard]] int size() const noexcept { return size_; }

  [[nodiscard]] double sum(double x) const { return reduce(x, MPI_SUM); }
  [[nodiscard]] double max(double x) const { return reduce(x, MPI_MAX); }
  [[nodiscard]] long long sum(long long x) const {
    long long r = 0;
    MPI_Allreduce(&x, &r, 1, MPI_LONG_LONG, MPI_SUM, comm_);
    return r;
  }
  [[nodiscard]] int min(int x) const {
    int r = 0;
    MPI_Allreduce(&x, &r, 1, MPI_INT, MPI_MIN, comm_);
    return r;
  }
  /// `x` from rank `root` on every rank.
  [[nodiscard]] double broadcast(double x, int root = 0) const {
    MPI_Bcast(&x, 1, MPI_DOUBLE, root, comm_);
    return x;
  }
  void broadcast(std::string& s, int root = 0) const {
    long long n = static_cast<long long>(s.size());
    MPI_Bcast(&n, 1, MPI_LONG_LONG, root, comm_);
    s.resize(static_cast<std::size_t>(n));
    if (n > 0) MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm_);
  }
  /// n from every rank, in rank order.
  [[nodiscard]] std::vector<Eigen::Index> all_counts(Eigen::Index n) const {
    long long mine = n;
    std::vector<long long> all(static_cast<std::size_t>(size_));
    MPI_Allgather(&mine, 1, MPI_LONG_LONG, all.data(), 1, MPI_LONG_LONG, comm_);
    return {all.begin(), all.end()};
  }

  /// The columns of every rank's `local` (d x n_r), concatenated in rank order: on every rank
  /// (`root` < 0) or on rank `root` only (an empty matrix elsewhere).
  template <class Scalar, int Dim>
  [[nodiscard]] positions<Scalar, Dim> gather(const Eigen::Ref<const positions<Scalar, Dim>>& local,
                                              int root = -1) const {
    const std::vector<Eigen::Index> n = all_counts(local.cols());
    const Eigen::Index d = local.rows();
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
    Eigen::Index total = 0;
    for (int r = 0; r < size_; ++r) {
      const Eigen::Index c = n[static_cast<std::size_t>(r)] * d;
      if (c > std::numeric_limits<int>::max() || total > std::numeric_limits<int>::max() - c)
        detail::fail("gfd::mpi::communicator::gather", "more than 2^31 - 1 numbers in one gather: ",
                     total + c);
      counts[static_cast<std::size_t>(r)] = static_cast<int>(c);
      offsets[static_cast<std::size_t>(r)] = static_cast<int>(total);
      total += c;
    }
    const bool here = root < 0 || root == rank_;
    positions<Scalar, Dim> all(d, here ? total / std::max<Eigen::Index>(d, 1) : 0);
    const positions<Scalar, Dim> mine = local;  // contiguous
    if (root < 0)
      MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), datatype<Scalar>(), all.data(),
                     counts.data(), offsets.data(), datatype<Scalar>(), comm_);
    else
      MPI_Gatherv(mine.data(), static_cast<int>(mine.size()), datatype<Scalar>(), all.data(),
                  counts.data(), offsets.data(), datatype<Scalar>(), root, comm_);
    return all;
  }
  /// The same for a vector (n_r entries per rank).
  template <class Scalar>
  [[nodiscard]] vector<Scalar> gather(const Eigen::Ref<const vector<Scalar>>& local, int root = -1) const {
    const positions<Scalar> as_row = local.transpose();
    const positions<Scalar> all = gather<Scalar, Eigen::Dynamic>(as_row, root);
    return all.row(0).transpose();
  }

  /// Rank `root`'s `all` (d x n, meaningful on root only) split evenly (shard_range): this rank's
  /// columns. `d` must be the same on every rank.
  template <class Scalar, int Dim>
  [[nodiscard]] positions<Scalar, Dim> scatter(const positions<Scalar, Dim>& all, Eigen::Index d,
                                               int root = 0) const {
    long long n = rank_ == root ? static_cast<long long>(all.cols()) : 0;
    MPI_Bcast(&n, 1, MPI_LONG_LONG, root, comm_);
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      const auto [a, b] = shard_range(static_cast<Eigen::Index>(n), r, size_);
      if ((b - a) * d > std::numeric_limits<int>::max() || a * d > std::numeric_limits<int>::max())
        detail::fail("gfd::mpi::communicator::scatter", "more than 2^31 - 1 numbers in one scatter: ", n * d);
      counts[static_cast<std::size_t>(r)] = static_cast<int>((b - a) * d);
      offsets[static_cast<std::size_t>(r)] = static_cast<int>(a * d);
    }
    const auto [a, b] = shard_range(static_cast<Eigen::Index>(n), rank_, size_);
    positions<Scalar, Dim> mine(d, b - a);
    MPI_Scatterv(rank_ == root ? all.data() : nullptr, counts.data(), offsets.data(), datatype<Scalar>(),
                 mine.data(), static_cast<int>(mine.size()), datatype<Scalar>(), root, comm_);
    return mine;
  }

  /// Runs f on every rank. If it throws on any rank, every rank throws the exception of the
  /// lowest such rank (its message prefixed with "rank r: "; gfd::invalid_argument,
  /// gfd::numerical_error or, for anything else, std::runtime_error), so that no rank is left
  /// waiting in a collective the others never reach. Collective.
  template <class F>
  void agree(F&& f) const {
    std::string msg;
    int kind = 0;  // 1 invalid_argument, 2 numerical_error, 3 other
    try {
      f();
    } catch (const gfd::invalid_argument& e) {
      msg = e.what();
      kind = 1;
    } catch (const gfd::numerical_error& e) {
      msg = e.what();
      kind = 2;
    } catch (const std::exception& e) {
      msg = e.what();
      kind = 3;
    }
    const int first = min(kind != 0 ? rank_ : size_);
    if (first == size_) return;
    broadcast(msg, first);
    double k = broadcast(static_cast<double>(kind), first);
    msg = "rank " + std::to_string(first) + ": " + msg;
    if (k == 1) throw gfd::invalid_argument(msg);
    if (k == 2) throw gfd::numerical_error(msg);
    throw std::runtime_error(msg);
  }

private:
  double reduce(double x, MPI_Op op) const {
    double r = 0;
    MPI_Allreduce(&x, &r, 1, MPI_DOUBLE, op, comm_);
    return r;
  }
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
};

namespace detail {
/// acc <- the sums of acc's sources and b's together (both over the same queries): log-add-exp of
/// the log-sums, softmax-weighted fields; where both are -inf (outside every compact support),
/// the fallback field toward the nearer source, the one of smaller norm.
template <class Scalar, int Dim>
void merge_sums(kernel_sums<Scalar, Dim>& acc, const kernel_sums<Scalar, Dim>& b) {
  for (Eigen::Index i = 0; i < acc.log_sum.size(); ++i) {
    const Scalar la = acc.log_sum(i), lb = b.log_sum(i);
    if (std::isinf(la) && std::isinf(lb)) {  // -inf both: nearest mass
      if (b.field.col(i).squaredNorm() < acc.field.col(i).squaredNorm()) acc.field.col(i) = b.field.col(i);
      continue;
    }
    const Scalar top = std::max(la, lb);
    const Scalar wa = std::exp(la - top), wb = std::exp(lb - top), total = wa + wb;
    acc.log_sum(i) = top + std::log(total);
    acc.field.col(i) = (wa / total) * acc.field.col(i) + (wb / total) * b.field.col(i);
  }
}
}  // namespace detail

/// An Evaluator over sources split across the ranks of a communicator: `prepare` takes this
/// rank's block (its sources and their log-weights) and prepares it with the inner evaluator;
/// `sums` at this rank's queries passes every block once around the ring of ranks (non-blocking
/// send to rank + 1 and receive from rank - 1 while the current block is summed) and merges the
/// partial sums in the log domain. Log-weights are taken as given on every rank (normalise them
/// over all ranks). Self-exclusion skips source i of this rank's own block for query i (the
/// queries must then be this rank's sources). prepare, sums, rebound and reweighted are
/// collective; size() is the number of sources over all ranks.
template <Evaluator Inner = exact_evaluator>
struct ring_evaluator {
  Inner inner{};
  communicator comm{};

  /// n summed over the ranks (flow_problem::particle_count). Collective.
  [[nodiscard]] Eigen::Index global_count(Eigen::Index n) const {
    return static_cast<Eigen::Index>(comm.sum(static_cast<long long>(n)));
  }

  template <Kernel K, class Scalar>
  class prepared {
  public:
    using scalar_type = Scalar;
    using kernel_type = K;
    using inner_type = prepared_t<Inner, K, Scalar>;

    [[nodiscard]] Eigen::Index size() const noexcept { return total_; }
    [[nodiscard]] Eigen::Index dim() const noexcept { return block_->y.rows(); }
    [[nodiscard]] Scalar bandwidth() const noexcept { return kernel_.h; }

    [[nodiscard]] prepared rebound(Scalar h) const {
      prepared p = *this;
      p.kernel_ = kernel_.rebound(h, "gfd::mpi::ring_evaluator::prepared::rebound");
      if (own_) p.own_ = own_->rebound(h);
      return p;
    }
    [[nodiscard]] prepared reweighted(const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& log_w) const {
      return prepared(inner_, comm_, block_->y, log_w, kernel_);
    }

    /// The sums of `queries` (this rank's) against every rank's block. Collective.
    template <int Dim>
    void sums(const std::type_identity_t<Eigen::Ref<const positions<Scalar, Dim>>>& queries,
              const sum_options& opt, kernel_sums<Scalar, Dim>& out) const {
      const int p = comm_.size(), me = comm_.rank();
      const Eigen::Index d = dim();
      sum_options foreign = opt;
      foreign.exclude_self = false;
      // Ring: in round s this rank holds the block of rank (me - s) mod p. It sends that block on
      // to rank + 1 and receives the next from rank - 1 while it sums its queries against it
      // (MPI-3 lets a buffer be read while a non-blocking send of it is pending).
      positions<Scalar> cur_y, next_y;
      vector<Scalar> cur_w, next_w;
      kernel_sums<Scalar, Dim> part;
      const int right = (me + 1) % p, left = (me + p - 1) % p;
      for (int s = 0; s < p; ++s) {
        const positions<Scalar>& held_y = s == 0 ? block_->y : cur_y;
        const vector<Scalar>& held_w = s == 0 ? block_->log_w : cur_w;
        MPI_Request req[4];
        const bool pass_on = s + 1 < p;
        if (pass_on) {
          const Eigen::Index m = counts_[static_cast<std::size_t>((me - s - 1 + 2 * p) % p)];
          next_y.resize(d, m);
          next_w.resize(m);
          MPI_Irecv(next_y.data(), static_cast<int>(next_y.size()), datatype<Scalar>(), left, 2 * s, comm_.get(), &req[0]);
          MPI_Irecv(next_w.data(), static_cast<int>(next_w.size()), datatype<Scalar>(), left, 2 * s + 1, comm_.get(), &req[1]);
          MPI_Isend(held_y.data(), static_cast<int>(held_y.size()), datatype<Scalar>(), right, 2 * s, comm_.get(), &req[2]);
          MPI_Isend(held_w.data(), static_cast<int>(held_w.size()), datatype<Scalar>(), right, 2 * s + 1, comm_.get(), &req[3]);
        }
        if (s == 0) {
          if (own_)
            own_->sums(queries, opt, out);
          else
            init_empty(queries, out);
        } else if (held_y.cols() > 0) {
          inner_.prepare(held_y, held_w, kernel_).sums(queries, foreign, part);
          detail::merge_sums(out, part);
        }
        if (pass_on) {
          MPI_Waitall(4, req, MPI_STATUSES_IGNORE);
          std::swap(cur_y, next_y);
          std::swap(cur_w, next_w);
        }
      }
    }

  private:
    friend struct ring_evaluator;
    struct block {
      positions<Scalar> y;
      vector<Scalar> log_w;
    };
    prepared(const Inner& inner, const communicator& comm, const Eigen::Ref<const positions<Scalar>>& y,
             const Eigen::Ref<const vector<Scalar>>& log_w, const bound_kernel<K, Scalar>& kernel)
        : inner_(inner), comm_(comm), kernel_(kernel) {
      auto b = std::make_shared<block>();
      b->y = y;
      b->log_w = log_w;
      block_ = std::move(b);
      counts_ = comm_.all_counts(y.cols());
      total_ = 0;
      for (Eigen::Index c : counts_) total_ += c;
      if (y.cols() > 0) own_ = inner_.prepare(block_->y, block_->log_w, kernel_);
    }
    template <int Dim>
    static void init_empty(const Eigen::Ref<const positions<Scalar, Dim>>& q, kernel_sums<Scalar, Dim>& out) {
      out.log_sum = vector<Scalar>::Constant(q.cols(), -std::numeric_limits<Scalar>::infinity());
      out.field = positions<Scalar, Dim>::Constant(q.rows(), q.cols(), std::numeric_limits<Scalar>::max());
    }

    Inner inner_;
    communicator comm_;
    bound_kernel<K, Scalar> kernel_;
    std::shared_ptr<const block> block_;
    std::vector<Eigen::Index> counts_;
    Eigen::Index total_ = 0;
    std::optional<inner_type> own_;
  };

  /// Prepares this rank's block. Collective (the ranks exchange their block sizes).
  template <Kernel K, class Scalar>
  [[nodiscard]] prepared<K, Scalar> prepare(
      const std::type_identity_t<Eigen::Ref<const positions<Scalar>>>& y,
      const std::type_identity_t<Eigen::Ref<const vector<Scalar>>>& source_log_weights,
      const bound_kernel<K, Scalar>& kernel) const {
    return prepared<K, Scalar>(inner, comm, y, source_log_weights, kernel);
  }
};

/// Whether gfd::mpi::flow shards divergence D (its velocity is a function of each particle's
/// kernel sums alone: gfd::LocalDivergence) or replicates it (every other divergence).
template <class D>
[[nodiscard]] constexpr bool sharded() noexcept {
  return LocalDivergence<D>;
}

/// A flow whose particles and targets are split across the ranks of a communicator; the same
/// options, kernels, evaluators, manifolds, divergences and steppers as gfd::flow (the adaptive
/// stepper excepted: its step-size control is not reduced across ranks yet), the same report on
/// every rank. Each rank passes its own block of the targets (weights, if any, are normalised
/// over all ranks) and of the particles; any split works, shard_range() gives the even one.
/// Observers are called on every rank at the same steps with this rank's particles; a `false`
/// from any rank stops every rank.
template <Kernel K = gaussian, class Scalar = double, int Dim = Eigen::Dynamic,
          Evaluator E = exact_evaluator, Manifold M = euclidean>
class flow {
public:
  using matrix_type = positions<Scalar, Dim>;
  using view_type = cloud_view<Scalar, Dim>;
  using state_type = flow_state<Scalar, Dim>;

  /// @throws gfd::invalid_argument on every rank when any rank's targets or the options are bad
  ///         (the message names the lowest such rank). Collective.
  flow(communicator comm, view_type local_targets, flow_options opt = {}, K kernel = {}, E evaluator = {},
       M manifold = {})
      : comm_(comm), targets_(std::move(local_targets)), opt_(std::move(opt)), kernel_(std::move(kernel)),
        eval_(std::move(evaluator)), manifold_(std::move(manifold)) {
    comm_.agree([&] {
      // The single-process flow's checks of the targets and options, on this rank's block.
      gfd::flow<K, Scalar, Dim, E, M> check(targets_, opt_, kernel_, eval_, manifold_);
      (void)check;
      if (opt_.method == stepper::adaptive)
        gfd::detail::fail("gfd::mpi::flow", "the adaptive stepper is not supported across ranks (its "
                          "step-size control is a maximum over all particles); use euler or heun");
    });
    // Target log-weights normalised over all ranks: log w_j - log sum_all w.
    if (targets_.weighted()) {
      const double total = comm_.sum(static_cast<double>(targets_.weights().sum()));
      log_w_ = (targets_.weights().array().template cast<double>() / total).log().template cast<Scalar>().matrix();
    } else {
      const auto m = static_cast<double>(comm_.sum(static_cast<long long>(targets_.size())));
      log_w_ = vector<Scalar>::Constant(targets_.size(), static_cast<Scalar>(-std::log(m)));
    }
  }

  [[nodiscard]] const communicator& comm() const noexcept { return comm_; }
  [[nodiscard]] const flow_options& options() const noexcept { return opt_; }

  /// Moves this rank's `particles` (modified in place) along the flow of `divergence`; the same
  /// report on every rank. Collective.
  /// @throws gfd::invalid_argument on every rank when any rank's particles are bad;
  ///         gfd::numerical_error on every rank when a velocity or particle becomes non-finite.
  template <class D, class Observer = no_observer>
  flow_report run(matrix_type& particles, const D& divergence, Observer&& observer = {}) const {
    switch (opt_.method) {
      case stepper::euler: return run_with(euler_stepper{}, particles, divergence, observer);
      case stepper::heun: return run_with(heun_stepper{}, particles, divergence, observer);
      case stepper::adaptive: break;
    }
    gfd::detail::fail("gfd::mpi::flow::run", "the adaptive stepper is not supported across ranks");
  }

  /// The same with any Stepper whose decisions depend only on the velocities it is given and on
  /// reduced quantities (euler_stepper, heun_stepper).
  template <Stepper S, class D, class Observer = no_observer>
  flow_report run_with(const S& stepper, matrix_type& particles, const D& divergence, Observer&& observer = {}) const {
    constexpr const char* where = "gfd::mpi::flow::run";
    comm_.agree([&] {
      view_type(particles).validate(where, "particles");
      gfd::detail::require_same_dim(where, particles, "particles", targets_.points(), "targets");
      manifold_.validate(where, "particles", particles);
      stepper.validate("gfd::mpi::flow");
      if constexpr (requires { divergence.ratio().normalise; })
        if (divergence.ratio().normalise)
          gfd::detail::fail(where, "ratio_policy.normalise divides by a mean over the particles, "
                            "which is not reduced across ranks; use normalise = false");
    });
    const Eigen::Index n_local = particles.cols();
    const auto n_total = static_cast<double>(comm_.sum(static_cast<long long>(n_local)));

    // The bandwidth schedule on rank 0, over the gathered targets (and particles when needed).
    const matrix_type all_targets = comm_.template gather<Scalar, Dim>(targets_.points(), 0);
    std::optional<vector<Scalar>> all_tw;
    if (targets_.weighted()) all_tw = comm_.template gather<Scalar>(targets_.weights(), 0);
    const bool root = comm_.rank() == 0;
    auto root_view = [&] { return all_tw ? view_type(all_targets, *all_tw) : view_type(all_targets); };
    const auto& sched = opt_.bandwidth;
    const bool needs_particles =
        sched.kind == bandwidth_schedule::mode::anneal ||
        (sched.kind == bandwidth_schedule::mode::rule && sched.include_particles);
    bandwidth_scheduler schedule(sched, opt_.max_steps);
    {
      const matrix_type all_x = needs_particles ? comm_.template gather<Scalar, Dim>(particles, 0) : matrix_type();
      comm_.agree([&] {
        if (root) schedule.start(root_view(), needs_particles ? all_x : all_targets);
      });
    }
    const bool rule_particles = sched.kind == bandwidth_schedule::mode::rule && sched.include_particles;
    auto bandwidth_at = [&](long k, const matrix_type& x) {
      double h = 0;
      const bool gather_now = rule_particles && (k % sched.every == 0);
      const matrix_type all_x = gather_now ? comm_.template gather<Scalar, Dim>(x, 0) : matrix_type();
      comm_.agree([&] {
        if (root) h = schedule.at(k, root_view(), gather_now ? all_x : all_targets);
      });
      return comm_.broadcast(h, 0);
    };

    // The velocity of this rank's particles, sharded or replicated, with reduced estimate and
    // finiteness.
    using ring = ring_evaluator<E>;
    const ring ring_eval{eval_, comm_};
    std::optional<velocity_system<D, K, Scalar, Dim, ring, M>> sharded_sys;
    std::optional<matrix_type> replica_targets;
    std::optional<vector<Scalar>> replica_log_w;
    std::optional<velocity_system<D, K, Scalar, Dim, E, M>> replicated_sys;
    comm_.agree([&] {
      if constexpr (sharded<D>()) {
        sharded_sys.emplace(divergence, targets_.points(), log_w_, kernel_, ring_eval, manifold_,
                            sched.multipliers);
      } else {
        replica_targets = comm_.template gather<Scalar, Dim>(targets_.points());
        replica_log_w = comm_.template gather<Scalar>(log_w_);
        replicated_sys.emplace(divergence, *replica_targets, *replica_log_w, kernel_, eval_, manifold_,
                               sched.multipliers);
      }
    });
    const auto counts = comm_.all_counts(n_local);
    Eigen::Index first = 0;
    for (int r = 0; r < comm_.rank(); ++r) first += counts[static_cast<std::size_t>(r)];

    struct system_view {
      const flow* self;
      const decltype(sharded_sys)* shard_sys;
      const decltype(replicated_sys)* replica_sys;
      Eigen::Index first, n_local;
      double n_total;
      double operator()(const Eigen::Ref<const matrix_type>& x, double t, double h, matrix_type& v,
                        bool want_estimate = false) const {
        double est = std::numeric_limits<double>::quiet_NaN();
        self->comm_.agree([&] {
          if constexpr (sharded<D>()) {
            est = (**shard_sys)(x, t, h, v, want_estimate);
            if (want_estimate) est = self->comm_.sum(est * static_cast<double>(n_local)) / n_total;
          } else {
            const matrix_type all = self->comm_.template gather<Scalar, Dim>(x);
            matrix_type v_all;
            est = (**replica_sys)(all, t, h, v_all, want_estimate);
            v = v_all.middleCols(first, n_local);
          }
          if (!v.allFinite())
            throw numerical_error(gfd::detail::message("gfd::mpi::flow", "a velocity on this rank is not finite at time ", t));
        });
        return est;
      }
      /// v_i <- P_{x_i} v_i on this rank's particles (no-op in R^d).
      void project_on_tangents(const Eigen::Ref<const matrix_type>& x, matrix_type& v) const {
        if constexpr (!M::is_euclidean)
          for (Eigen::Index i = 0; i < x.cols(); ++i) v.col(i) = self->manifold_.project(x.col(i), v.col(i));
      }
    } sys{this, &sharded_sys, &replicated_sys, first, n_local, n_total};

    // The update, with the mean displacement over all particles and a reduced finiteness check.
    struct update_view {
      const flow* self;
      particle_update<Scalar, Dim, M> move;
      Eigen::Index n_local;
      double n_total;
      double operator()(matrix_type& x, const matrix_type& v, double step, double h) const {
        double mean = 0;
        self->comm_.agree([&] {
          mean = move(x, v, step, h);
          if (!x.allFinite())
            throw numerical_error(gfd::detail::message("gfd::mpi::flow", "a particle on this rank is not finite after a step"));
        });
        return self->comm_.sum(mean * static_cast<double>(n_local)) / n_total;
      }
    } move{this, particle_update<Scalar, Dim, M>{manifold_, opt_.max_displacement, opt_.retraction}, n_local,
           n_total};

    // An observer whose verdict is the same on every rank.
    auto observe = [&](const state_type& st) {
      bool go = true;
      if constexpr (std::is_same_v<std::invoke_result_t<Observer, const state_type&>, bool>)
        go = observer(st);
      else
        observer(st);
      return comm_.min(go ? 1 : 0) == 1;
    };

    // The schedule as the loop asks for it: computed on rank 0, broadcast (collective).
    struct schedule_view {
      decltype(bandwidth_at)& at_k;
      const bandwidth_scheduler& inner;
      double at(long k, int /*targets*/, const matrix_type& x) { return at_k(k, x); }
      [[nodiscard]] bool settled(long k) const { return inner.settled(k); }
    } shared_schedule{bandwidth_at, schedule};
    const integrate_options io{.max_steps = opt_.max_steps,
                               .dt = opt_.dt,
                               .dt_in_bandwidth_units = opt_.dt_in_bandwidth_units,
                               .speed_tolerance = opt_.speed_tolerance,
                               .divergence_tolerance = opt_.divergence_tolerance,
                               .observe_every = opt_.observe_every};
    return integrate(sys, stepper, move, particles, shared_schedule, 0, io, observe);
  }

private:
  communicator comm_;
  view_type targets_;
  flow_options opt_;
  K kernel_;
  E eval_;
  [[no_unique_address]] M manifold_;
  vector<Scalar> log_w_;
};

}  // namespace gfd::mpi
