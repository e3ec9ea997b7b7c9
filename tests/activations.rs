//! Accuracy of each activation against its f64 definition, as documented on
//! `Activation`, and NaN propagation (PyTorch semantics: NaN in, NaN out).

mod common;

use common::convs::ACTIVATIONS;
use pointwise::Activation;

/// Documented bound for each activation: (relative ulps, absolute floor).
fn bound(a: Activation) -> (f64, f64) {
    match a {
        Activation::None | Activation::Relu | Activation::Relu6 | Activation::Clamp { .. } => (0.0, 0.0),
        Activation::LeakyRelu { .. } => (1.0, 0.0),
        Activation::HardSwish => (2.0, 0.0),
        _ => (4.0, 1e-7),
    }
}

#[test]
fn activations_match_f64_within_documented_bounds() {
    for &a in ACTIVATIONS {
        let (ulps, floor) = bound(a);
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            let got = a.apply(x) as f64;
            let want = a.apply_f64(x as f64);
            let err = (got - want).abs();
            let allowed = ulps * f32::EPSILON as f64 * want.abs() + floor;
            assert!(err <= allowed, "{a:?}({x}) = {got}, f64 says {want}: error {err:e} > {allowed:e}");
            worst = worst.max(err / (f32::EPSILON as f64 * want.abs()).max(1e-30));
        }
        println!("{a:?}: worst error {worst:.2} ulp (relative)");
    }
}

#[test]
fn nan_propagates_through_every_activation() {
    for &a in ACTIVATIONS {
        assert!(a.apply(f32::NAN).is_nan(), "{a:?} swallowed a NaN");
    }
}

#[test]
fn infinities_saturate_as_pytorch_does() {
    assert_eq!(Activation::Relu.apply(f32::INFINITY), f32::INFINITY);
    assert_eq!(Activation::Relu.apply(f32::NEG_INFINITY), 0.0);
    assert_eq!(Activation::Relu6.apply(f32::INFINITY), 6.0);
    assert_eq!(Activation::Sigmoid.apply(f32::NEG_INFINITY), 0.0);
    assert_eq!(Activation::Sigmoid.apply(f32::INFINITY), 1.0);
    assert_eq!(Activation::Tanh.apply(f32::INFINITY), 1.0);
}
