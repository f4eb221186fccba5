/*
 * tiny_cnn.c — an example backbone plugin in plain C: a small three-stage CNN.
 *
 * Build it into a plugin folder (here the per-user one); the host needs no rebuild:
 *
 *     cc -shared -fPIC -O2 -I Sources/PluginABI/include plugins/example/tiny_cnn.c \
 *         -o ~/.local/share/finetune/plugins/tiny_cnn.so
 *     finetune backbones
 *
 * The macros below may be overridden with -D when compiling; the project's tests use them to
 * show how the host rejects a plugin that lies about itself, and (TINY_WEIGHTS_URL with
 * TINY_WEIGHTS_FILE and TINY_WEIGHTS_SHA256) to publish a weight set that
 * `finetune train --weights imagenet` fetches and checks.
 */
#include <stddef.h>
#include "finetune_plugin.h"

#ifndef TINY_NAME
#define TINY_NAME "tiny-cnn"
#endif
#ifndef TINY_ABI_MAJOR
#define TINY_ABI_MAJOR FT_ABI_MAJOR
#endif
#ifndef TINY_IN_FEATURES
#define TINY_IN_FEATURES 64
#endif

/* conv (3x3, no bias) -> batch norm -> relu, named "<prefix>.conv" and "<prefix>.bn". */
static int32_t conv_bn_relu(const ft_host_api *h, ft_builder *b, const char *conv_name,
                            const char *bn_name, int32_t x, int32_t out_channels, int32_t stride) {
    ft_conv2d_params p = {0};
    p.struct_size = sizeof p;
    p.out_channels = out_channels;
    p.kernel_h = p.kernel_w = 3;
    p.stride_h = p.stride_w = stride;
    p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 1;
    p.dilation_h = p.dilation_w = 1;
    p.groups = 1;
    p.bias = 0;
    x = h->conv2d(b, conv_name, x, &p);
    if (x < 0) return x;
    x = h->batch_norm(b, bn_name, x, 1e-5f, 0.1f);
    if (x < 0) return x;
    return h->activation(b, NULL, x, FT_ACT_RELU);
}

static int32_t build(const ft_host_api *h, ft_builder *b) {
    /* Names follow the state_dict of an equivalent torch.nn.Sequential. */
    static const char *conv_names[] = {"features.0.conv", "features.1.conv", "features.2.conv"};
    static const char *bn_names[] = {"features.0.bn", "features.1.bn", "features.2.bn"};
    static const char *group_names[] = {"stem", "stage1", "stage2"};
    static const int32_t widths[] = {16, 32, 64};

    int32_t x = h->input(b, 3);
    for (int i = 0; i < 3 && x >= 0; i++) {
        if (h->begin_group(b, group_names[i]) < 0) return 1;
        x = conv_bn_relu(h, b, conv_names[i], bn_names[i], x, widths[i], 2);
    }
    if (x < 0) return 1;
    x = h->global_avg_pool(b, "pool", x);
    if (x < 0) return 1;
    return h->set_features(b, x) < 0 ? 1 : 0;
}

#ifdef TINY_WEIGHTS_URL
/* Published pretrained weights (ABI 1.1), as torchvision's Weights enums describe theirs. */
static const ft_weight_set tiny_imagenet = {
    .struct_size = sizeof(ft_weight_set),
    .name = "IMAGENET1K_V1",
    .file_name = TINY_WEIGHTS_FILE,
    .url = TINY_WEIGHTS_URL,
    .sha256 = TINY_WEIGHTS_SHA256,
    .crop_size = 64,
    .resize_size = 72,
    .interpolation = FT_INTERP_BILINEAR,
    .top1 = 0.0f,
};
static const ft_weight_set *const tiny_weight_sets[] = {&tiny_imagenet};
#endif

static const ft_backbone_desc tiny_cnn = {
    .struct_size = sizeof(ft_backbone_desc),
    .abi_major = TINY_ABI_MAJOR,
    .abi_minor = FT_ABI_MINOR,
    .name = TINY_NAME,
    .summary = "Example plugin in C: three conv-BN-ReLU stages, 16-32-64 channels",
    .in_features = TINY_IN_FEATURES,
    .input_size = 64,
    .eval_resize = 72,
    .mean = {0.485f, 0.456f, 0.406f},
    .std = {0.229f, 0.224f, 0.225f},
    .weights_hint = "none: trains from random initialisation",
    .build = build,
#ifdef TINY_WEIGHTS_URL
    .weight_set_count = 1,
    .weight_sets = tiny_weight_sets,
#endif
};

static const ft_backbone_desc *const backbones[] = {&tiny_cnn};

static const ft_plugin_desc plugin = {
    .struct_size = sizeof(ft_plugin_desc),
    .abi_major = TINY_ABI_MAJOR,
    .abi_minor = FT_ABI_MINOR,
    .plugin_name = "tiny_cnn example",
    .plugin_version = "1.0.0",
    .backbone_count = 1,
    .backbones = backbones,
};

__attribute__((visibility("default")))
const ft_plugin_desc *finetune_plugin_entry(uint32_t host_abi_major, uint32_t host_abi_minor) {
    (void)host_abi_major;
    (void)host_abi_minor;
    /* Refusing a host of another major (return NULL) is allowed; this example lets the host decide. */
    return &plugin;
}
