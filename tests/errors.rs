//! Every error the API can return, each from the condition that triggers it,
//! and the guarantee that a failed call writes nothing. The README's error
//! table lists the same rows.

use pointwise::{
    dispatch, Activation, Conv1x1, Error, Isa, Layout, Residual, RunOptions, Tensor, TensorDesc, TensorMut, WeightOrder,
};

fn packed(conv: Conv1x1) -> pointwise::PackedConv {
    let w = vec![0.5; conv.out_channels * conv.in_channels / conv.groups];
    conv.pack_for(Isa::Scalar, &w, WeightOrder::OutIn, None).unwrap()
}

#[test]
fn zero_sizes() {
    let w = [1.0];
    for (conv, what) in [
        (Conv1x1::new(0, 1), "in_channels"),
        (Conv1x1::new(1, 0), "out_channels"),
        (Conv1x1::new(1, 1).with_groups(0), "groups"),
        (Conv1x1::new(1, 1).with_stride(0, 1), "vertical stride"),
        (Conv1x1::new(1, 1).with_stride(1, 0), "horizontal stride"),
    ] {
        assert_eq!(conv.pack_for(Isa::Scalar, &w, WeightOrder::OutIn, None).unwrap_err(), Error::ZeroSize { what });
    }
    let conv = packed(Conv1x1::new(1, 1));
    let mut out = [0.0];
    for (b, h, w, what) in [(0, 1, 1, "batch"), (1, 0, 1, "height"), (1, 1, 0, "width")] {
        assert_eq!(conv.run_nhwc(&[], b, h, w, &mut out).unwrap_err(), Error::ZeroSize { what });
    }
}

#[test]
fn overflowing_sizes() {
    let conv = packed(Conv1x1::new(1, 1));
    let mut out = [0.0];
    let err = conv.run_nhwc(&[1.0], usize::MAX / 2, 3, 1, &mut out).unwrap_err();
    assert_eq!(err, Error::SizeOverflow { what: "tensor length" });
    let huge = Conv1x1::new(usize::MAX / 2, 4);
    assert_eq!(
        huge.pack_for(Isa::Scalar, &[], WeightOrder::OutIn, None).unwrap_err(),
        Error::SizeOverflow { what: "weight count" }
    );
    let desc = TensorDesc::nhwc(1, 1, 1, 1).with_channel_offset(usize::MAX);
    let err = conv.run(Tensor::new(&[1.0], desc), TensorMut::new(&mut out, TensorDesc::nhwc(1, 1, 1, 1))).unwrap_err();
    assert_eq!(err, Error::SizeOverflow { what: "channel range" });
}

#[test]
fn wrong_lengths() {
    let conv = Conv1x1::new(3, 2);
    assert_eq!(
        conv.pack_for(Isa::Scalar, &[0.0; 5], WeightOrder::InOut, None).unwrap_err(),
        Error::LengthMismatch { what: "weights", expected: 6, actual: 5 }
    );
    assert_eq!(
        conv.pack_for(Isa::Scalar, &[0.0; 6], WeightOrder::OutIn, Some(&[0.0; 3])).unwrap_err(),
        Error::LengthMismatch { what: "bias", expected: 2, actual: 3 }
    );
    let p = packed(conv);
    let mut out = [7.0f32; 4];
    assert_eq!(
        p.run_nhwc(&[0.0; 5], 1, 1, 2, &mut out).unwrap_err(),
        Error::LengthMismatch { what: "input", expected: 6, actual: 5 }
    );
    assert_eq!(
        p.run_nhwc(&[0.0; 6], 1, 1, 2, &mut out[..3]).unwrap_err(),
        Error::LengthMismatch { what: "output", expected: 4, actual: 3 }
    );
    assert_eq!(out, [7.0; 4], "a failed call wrote to the output");
    let blocked = TensorDesc::new(Layout::Nchwc(8), 1, 1, 2, 3);
    assert_eq!(
        p.run(Tensor::new(&[0.0; 6], blocked), TensorMut::new(&mut out, TensorDesc::nhwc(1, 1, 2, 2))).unwrap_err(),
        Error::LengthMismatch { what: "input", expected: 16, actual: 6 }
    );
}

#[test]
fn groups_must_divide_channels() {
    for (conv, what, channels) in [
        (Conv1x1::new(10, 6).with_groups(3), "in_channels", 10),
        (Conv1x1::new(6, 10).with_groups(3), "out_channels", 10),
    ] {
        assert_eq!(
            conv.pack_for(Isa::Scalar, &[0.0; 20], WeightOrder::OutIn, None).unwrap_err(),
            Error::GroupsDoNotDivide { what, channels, groups: 3 }
        );
    }
}

#[test]
fn shapes_and_channel_ranges() {
    let p = packed(Conv1x1::new(2, 2).with_stride(2, 2));
    let input = [0.0; 2 * 3 * 3];
    let mut out = [0.0; 2 * 3 * 3];
    let err = p
        .run(Tensor::new(&input, TensorDesc::nhwc(1, 3, 3, 2)), TensorMut::new(&mut out, TensorDesc::nhwc(1, 3, 3, 2)))
        .unwrap_err();
    assert_eq!(err, Error::ShapeMismatch { what: "output", expected: [1, 2, 2], actual: [1, 3, 3] });

    let mut out = [0.0; 8];
    let residual = [0.0; 8];
    let err = p
        .run_residual(
            Tensor::new(&input, TensorDesc::nhwc(1, 3, 3, 2)),
            TensorMut::new(&mut out, TensorDesc::nhwc(1, 2, 2, 2)),
            Tensor::new(&residual, TensorDesc::nhwc(2, 2, 1, 2)),
        )
        .unwrap_err();
    assert_eq!(err, Error::ShapeMismatch { what: "residual", expected: [1, 2, 2], actual: [2, 2, 1] });

    let err = p
        .run(
            Tensor::new(&input, TensorDesc::nhwc(1, 3, 3, 2).with_channel_offset(1)),
            TensorMut::new(&mut out, TensorDesc::nhwc(1, 2, 2, 2)),
        )
        .unwrap_err();
    assert_eq!(err, Error::ChannelRange { what: "input", offset: 1, used: 2, channels: 2 });

    let residual = [0.0; 4];
    let err = p
        .run_residual(
            Tensor::new(&input, TensorDesc::nhwc(1, 3, 3, 2)),
            TensorMut::new(&mut out, TensorDesc::nhwc(1, 2, 2, 2)),
            Tensor::new(&residual, TensorDesc::nhwc(1, 2, 2, 1)),
        )
        .unwrap_err();
    assert_eq!(err, Error::ChannelRange { what: "residual", offset: 0, used: 2, channels: 1 });
}

#[test]
fn unsupported_block() {
    let p = packed(Conv1x1::new(2, 2));
    let mut out = [0.0; 2];
    let err = p
        .run(
            Tensor::new(&[0.0; 4], TensorDesc::new(Layout::Nchwc(4), 1, 1, 1, 2)),
            TensorMut::new(&mut out, TensorDesc::nhwc(1, 1, 1, 2)),
        )
        .unwrap_err();
    assert_eq!(err, Error::UnsupportedBlock { block: 4 });
}

#[test]
fn invalid_activations() {
    for (activation, reason) in [
        (Activation::Clamp { min: f32::NAN, max: 1.0 }, "clamp bound is NaN"),
        (Activation::Clamp { min: 2.0, max: 1.0 }, "clamp min is greater than max"),
        (Activation::LeakyRelu { alpha: f32::INFINITY }, "leaky ReLU slope is not finite"),
    ] {
        let conv = Conv1x1::new(1, 1).with_activation(activation);
        assert_eq!(
            conv.pack_for(Isa::Scalar, &[1.0], WeightOrder::OutIn, None).unwrap_err(),
            Error::InvalidActivation { reason }
        );
    }
}

#[test]
fn isa_errors() {
    assert_eq!(dispatch::parse_isa("sse9").unwrap_err(), Error::UnknownIsa { name: "sse9".into() });
    for isa in Isa::ALL {
        let result = Conv1x1::new(1, 1).pack_for(isa, &[1.0], WeightOrder::OutIn, None);
        match dispatch::check(isa) {
            Ok(_) => assert!(result.is_ok()),
            Err(e) => {
                assert!(matches!(e, Error::IsaNotCompiled { .. } | Error::IsaUnavailable { .. }));
                assert_eq!(result.unwrap_err(), e);
            }
        }
    }
    // Kernels by name: unknown ones, and each compiled one where its ISA runs.
    let conv = Conv1x1::new(1, 1);
    let err = conv.pack_for_kernel("f32_pw_1x1__sse9", &[1.0], WeightOrder::OutIn, None).unwrap_err();
    assert_eq!(err, Error::UnknownKernel { name: "f32_pw_1x1__sse9".into() });
    assert!(err.to_string().contains("f32_pw_4x8__scalar"), "the message lists the kernels: {err}");
    for kernel in pointwise::kernels::KERNELS {
        let result = conv.pack_for_kernel(kernel.name, &[1.0], WeightOrder::OutIn, None);
        match dispatch::check(kernel.isa) {
            Ok(_) => assert_eq!(result.unwrap().kernel().name, kernel.name),
            Err(e) => assert_eq!(result.unwrap_err(), e),
        }
    }
    // Weights packed for one ISA, a call that insists on another.
    let p = packed(Conv1x1::new(1, 1));
    let mut out = [0.0];
    let err = p
        .run_with(
            Tensor::new(&[1.0], TensorDesc::nhwc(1, 1, 1, 1)),
            TensorMut::new(&mut out, TensorDesc::nhwc(1, 1, 1, 1)),
            Residual::None,
            &RunOptions { expect_isa: Some(Isa::Neon), ..RunOptions::default() },
        )
        .unwrap_err();
    assert_eq!(err, Error::WeightsPackedForOtherIsa { packed: Isa::Scalar, requested: Isa::Neon });
}

#[test]
fn errors_name_the_problem() {
    let e = Error::LengthMismatch { what: "bias", expected: 2, actual: 3 };
    assert_eq!(e.to_string(), "bias has 3 elements, but the shape calls for 2");
    let e = Error::GroupsDoNotDivide { what: "in_channels", channels: 10, groups: 3 };
    assert_eq!(e.to_string(), "3 groups do not divide in_channels = 10");
}
