// SPDX-License-Identifier: MIT
/// @file generator/options.hpp
/// @brief The options of generator training: the drift's bandwidth (a bandwidth_schedule) and
///        generator_options with the defaults and why they are what they are.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "../bandwidth.hpp"
#include "../flow/schedule.hpp"
#include "model.hpp"

namespace gfd {

/// Options of train_generator / generator_trainer. The defaults (with the default field,
/// deng_drifting_field and gfd::laplacian) train a 4 x 128 SiLU network, batch 512, in about two
/// minutes on 2 cores (3000 steps) to the held-out sliced-W2 noise floor on every 2D toy of
/// toy.hpp; README "One-step generator" has the measured table. rings stays visibly blurrier
/// than its target (71 % of the samples within 2 sd of a ring radius, a fresh sample 95 %).
///
/// Why input_scale: a generator of a multi-modal target must tear the noise into separate pieces
/// (25 on 25gaussians), so the map has to switch sharply along lines placed inside the bulk of
/// the noise. With LeCun weights and zero biases every first-layer switch passes through the
/// origin and bends over the whole unit scale of the noise, and Adam did not grow them sharp
/// enough: on 25gaussians 21-23/25 modes with 20-30 % of the samples within 3 sd of a mode,
/// although the averaged drift E[V] there pointed to the nearest mode with |E[V]| about ten
/// times the distance (the field was right; the network could not follow). input_scale = 5 alone
/// gave 25/25 and 48-58 %, batch 512, lr 1e-2 and a fourth layer alone 49 %, both 80-85 %.
/// Thin bridges between neighbouring modes remain: a continuous map of connected noise has a
/// connected image.
struct generator_options {
  // Architecture.
  int noise_dim = 0;             ///< k, dimension of the N(0, I) noise; 0 = the data dimension
  int width = 128;               ///< hidden width (when `widths` is empty)
  int depth = 4;                 ///< number of hidden layers (when `widths` is empty)
  std::vector<int> widths{};     ///< explicit hidden widths; overrides width and depth
  // Batches.
  Eigen::Index batch = 512;      ///< B, generated samples per step
  Eigen::Index target_batch = 0; ///< M, data samples per step (drawn with replacement); 0 = B
  // Optimisation.
  long steps = 3000;
  double lr = 1e-2;              ///< Adam learning rate (peak)
  long warmup = 100;             ///< linear warm-up steps
  double lr_final = 0.05;        ///< cosine decay to lr * lr_final at the last step (1 = constant)
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  double grad_clip = 0;          ///< clip the global gradient norm (0 = off)
  double eta = 1.0;              ///< drift scale in the regression target f + eta V (Eq. 6)
  double ema = 0.999;            ///< EMA decay of the sampling weights, see generator_trainer
  double init_gain = 1.0;        ///< LeCun-normal gain of the hidden layers
  double output_gain = 1.0;      ///< ... and of the output layer
  double input_scale = 5.0;      ///< s of the first hidden layer, W ~ N(0, s^2 / k), b ~ N(0, s^2)
                                 ///< (nn::mlp::initialise); 0 = LeCun with zero biases like the rest
  std::uint64_t seed = 0;        ///< seeds initialisation, noise, batches and the hold-out split
  // Data and drift.
  data_scaling scaling = data_scaling::per_coordinate;
  /// The drift's bandwidth at each training step, in standardised units: the flow's
  /// bandwidth_schedule (flow/schedule.hpp), with the step's data batch as its targets and the
  /// training steps as its steps. fixed(h); by_rule(rule).scaled(factor), re-chosen on each
  /// batch (the default: Silverman's rule); or anneal(...) over `steps`. Its multipliers sum the
  /// drift over several bandwidths h c_m (generator_drift). Deng's normalised temperatures are a
  /// property of the field (deng_drifting_field), which then ignores h.
  bandwidth_schedule bandwidth = bandwidth_schedule::by_rule(bandwidth_rule::silverman);
  /// Compute the drift (the kernel sums, log domain as in double) in float: twice the SIMD lanes.
  /// The network, its gradients and Adam stay in double; only V is rounded to float.
  bool float_drift = false;
  // Conditional training (a generator_trainer given labels), as Deng et al.'s public train.py:
  // every step draws batch / class_batch groups, each a class c (the label of a random training
  // point) and a guidance scale omega, generates class_batch samples for (c, omega), and drifts
  // them with grouped_drifting_field: positives from c's memory bank, negatives the group's own
  // samples and unconditional data weighted (class_batch - 1)(omega - 1) / negatives.
  Eigen::Index class_batch = 64;    ///< C_g, generated samples per group (Deng: gen_per_label 64)
  Eigen::Index positives = 64;      ///< C_p, positives per group (Deng: pos_per_sample 64)
  Eigen::Index negatives = 32;      ///< C_n, unconditional negatives per group (Deng: 32); 0 = no
                                    ///< guidance (then cfg_min = cfg_max = 1 is required)
  Eigen::Index positive_bank = 128;   ///< per-class memory bank capacity (Deng: 128)
  Eigen::Index negative_bank = 1000;  ///< unconditional memory bank capacity (Deng: 1000)
  double cfg_min = 1.0, cfg_max = 4.0;  ///< omega in [cfg_min, cfg_max] (Deng: 1 and 4), drawn
  double cfg_power = 1.0;               ///< with density ~ omega^-cfg_power (1 = log-uniform;
                                        ///< Deng's neg_cfg_pw, 5 in their ImageNet runs)
  // Monitoring.
  Eigen::Index holdout = 0;      ///< data points held out (seeded split) for the sliced W2; 0 = none
  int sw2_projections = 128;     ///< directions of the sliced W2
  long observe_every = 100;      ///< observer period in steps (and after the last); 0 = last only
};

}  // namespace gfd
