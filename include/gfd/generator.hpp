// SPDX-License-Identifier: MIT
/// @file generator.hpp
/// @brief The generator module's umbrella header (CMake target gfd::generator): a one-step
///        generator trained by drifting (Deng et al. 2026, Eq. 6), a small MLP f with f(noise)
///        distributed as the data, trained against any gfd velocity field; sampling, and a
///        versioned binary file format.
///
/// The particle flow (flow.hpp) moves one fixed set of samples. A generator instead learns a map
/// f: R^k -> R^d from standard normal noise e to data space, so that after training a new sample
/// costs one forward pass. Training follows Deng et al. (2026), "Generative Modeling via
/// Drifting", Eq. 6: at each step
///
///     x_i = f(e_i) (i = 1..B),  V = drift of the generated batch {x_i} toward a data batch {y_j},
///     loss = (1/B) sum_i |f(e_i) - stopgrad(f(e_i) + eta V(x_i))|^2 = eta^2 (1/B) sum_i |V_i|^2,
///
/// whose gradient with respect to the parameters is -(2 eta / B) sum_i V_i^T df(e_i)/dtheta:
/// gradient descent moves every output along its drift, the particle flow's step "pulled back"
/// through the network. The parameters follow Adam; sampling uses an exponential moving average
/// (EMA) of them.
///
/// The drift comes from any gfd velocity field `D` (a type with `velocity(problem, v, want)`,
/// see divergences.hpp): the problem's targets are the data batch, its particles the generated
/// batch, so every divergence of gfd can train a generator. gfd velocities are rates (a flow
/// step is dt h^2 v, flow.hpp), so the drift is V = h^2 v: for the drifting field this is Deng's
/// V itself (drifting_field::velocity divides by h^2), for KL(q||p) with a Gaussian kernel it is
/// h^2 (s_p - s_q) = m_p - m_q, the same field (DESIGN 1.3), and for every other divergence it is
/// the displacement of one flow step of dt = 1 in the flow's units. So eta means the same for
/// all: the fraction of the drift the regression target moves each output by. (Adam is invariant
/// to a constant scale of the gradient up to its eps, so eta mostly matters for the reported loss
/// and with gradient clipping; the relative sizes of the V_i are what train the network.)
///
/// Default: Deng et al.'s own field, deng_drifting_field with the Laplacian kernel (see there for
/// why); any other field is one template argument away.
///
/// The data are standardised internally (x -> (x - mean) / scale, per coordinate by default); the
/// network, the drift and the bandwidth live in those units, and the model stores the scaling so
/// that generate() returns points in data units.
///
/// Conditional generators (Deng et al.'s class-conditional training with classifier-free
/// guidance): a generator_trainer given labels trains a model with inputs (e, class, omega), one
/// network for every guidance scale omega, with the grouped field of drifting.hpp
/// (grouped_drifting_field: per-class positives from a memory bank, the group's samples and
/// weighted unconditional data as negatives). generator_model::generate(n, seed, class, omega).
///
/// Everything is double. Thread-safety: a generator_model's const functions are safe; a
/// generator_trainer is not (it holds the optimiser state). With OpenMP, Eigen's matrix products
/// and gfd's kernel sums use threads. A seed gives bit-identical training and samples for a
/// given build and thread count; another thread count may change the last bits (Eigen chooses
/// its GEMM blocking by thread count), and a trained model can drift from there.
///
/// The module lives in generator/: nn.hpp (the network and Adam, namespace gfd::nn), memory_bank.hpp
/// (class_memory_bank), model.hpp
/// (generator_model), model_file.hpp (the file format), drift.hpp (generator_drift,
/// deng_drifting_field), options.hpp (generator_options) and trainer.hpp (generator_trainer,
/// train_generator). It is not part of <gfd/gfd.hpp>.
#pragma once

#include "generator/drift.hpp"       // IWYU pragma: export
#include "generator/memory_bank.hpp" // IWYU pragma: export
#include "generator/model.hpp"       // IWYU pragma: export
#include "generator/model_file.hpp"  // IWYU pragma: export
#include "generator/nn.hpp"          // IWYU pragma: export
#include "generator/options.hpp"     // IWYU pragma: export
#include "generator/trainer.hpp"     // IWYU pragma: export
