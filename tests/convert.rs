//! Layout conversions, checked element by element against the reference's
//! addressing, for every pair of layouts, odd channel counts and slices.

use pointwise::reference::element_offset;
use pointwise::{convert, Error, Layout, TensorDesc};

const LAYOUTS: [Layout; 4] = [Layout::Nhwc, Layout::Nchw, Layout::Nchwc(8), Layout::Nchwc(16)];

#[test]
fn every_layout_pair_round_trips() {
    for channels in [1, 3, 13, 16, 37] {
        for from in LAYOUTS {
            for to in LAYOUTS {
                let (b, h, w) = (2, 3, 5);
                let src_desc = TensorDesc::new(from, b, h, w, channels + 2).with_channel_offset(2);
                let dst_desc = TensorDesc::new(to, b, h, w, channels + 1).with_channel_offset(1);
                let src: Vec<f32> = (0..src_desc.len().unwrap()).map(|i| i as f32).collect();
                let mut dst = vec![-1.0; dst_desc.len().unwrap()];
                convert(&src, &src_desc, &mut dst, &dst_desc).unwrap();
                for n in 0..b {
                    for c in 0..channels {
                        for y in 0..h {
                            for x in 0..w {
                                let want = src[element_offset(&src_desc, n, c + 2, y, x)];
                                let got = dst[element_offset(&dst_desc, n, c + 1, y, x)];
                                assert_eq!(got, want, "{from:?} -> {to:?}, C = {channels}");
                            }
                        }
                    }
                    // Channel 0 of dst is before its offset: untouched.
                    assert_eq!(dst[element_offset(&dst_desc, n, 0, 1, 1)], -1.0);
                    if let Layout::Nchwc(block) = to {
                        for c in channels + 1..(channels + 1).div_ceil(block) * block {
                            let pad = dst[element_offset(&TensorDesc { channels: c + 1, ..dst_desc }, n, c, 2, 4)];
                            assert_eq!(pad, 0.0, "padding lane {c} not zeroed");
                        }
                    }
                }
                let mut back = vec![0.0; src_desc.len().unwrap()];
                let back_desc = TensorDesc { channel_offset: 2, ..src_desc };
                convert(&dst, &dst_desc, &mut back, &back_desc).unwrap();
                for n in 0..b {
                    for c in 2..channels + 2 {
                        let at = element_offset(&src_desc, n, c, 2, 3);
                        assert_eq!(back[at], src[at]);
                    }
                }
            }
        }
    }
}

#[test]
fn mismatched_conversions_are_errors() {
    let a = TensorDesc::nhwc(1, 2, 2, 3);
    let mut out = [0.0; 12];
    assert!(matches!(
        convert(&[0.0; 12], &a, &mut out, &TensorDesc::nhwc(1, 2, 3, 3)),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        convert(&[0.0; 12], &a, &mut out, &TensorDesc::nhwc(1, 2, 2, 2)),
        Err(Error::ChannelRange { .. })
    ));
    assert!(matches!(convert(&[0.0; 11], &a, &mut out, &a), Err(Error::LengthMismatch { what: "input", .. })));
}
