/*
 * finetune_plugin.h — the stable C ABI between the finetune host and backbone plugins.
 *
 * A plugin is a shared library exporting one function, finetune_plugin_entry. It returns a
 * static, read-only descriptor listing the backbones it provides; each backbone describes its
 * network through the host's builder table (ft_host_api). The host owns every tensor: a plugin
 * never allocates or frees memory across this boundary.
 *
 * Rules that keep the ABI stable:
 *   - C only, fixed-width integer types and float only: no enums, bitfields, long or varargs.
 *   - Every struct starts with struct_size, abi_major, abi_minor (parameter structs with
 *     struct_size alone), and its writer sets struct_size to sizeof the struct it was built with.
 *   - The major version must match; a minor version only appends fields at the end.
 *   - A reader reads a field only if it lies inside struct_size: FT_HAS_FIELD below is that rule,
 *     and host and plugins both use it. So a plugin built against 1.0 loads in a 1.1 host (the
 *     host reads its shorter descriptor and treats the newer fields as absent), and a 1.1 plugin
 *     asks FT_HAS_FIELD(host, ft_host_api, concat) before calling an operation 1.0 lacks.
 *   - Node ids are int32; a negative id means an error, whose reason the builder keeps
 *     (a plugin may add its own with set_error).
 *
 * A plain C plugin builds with:  cc -shared -fPIC -I Sources/PluginABI/include my_plugin.c -o my_plugin.so
 */
#ifndef FINETUNE_PLUGIN_H
#define FINETUNE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FT_ABI_MAJOR 1u
#define FT_ABI_MINOR 1u

/* 1 when a struct of struct_size bytes holds the bytes [offset, offset + size), else 0. */
static inline int ft_struct_holds(uint32_t struct_size, size_t offset, size_t size) {
    return offset <= struct_size && size <= struct_size - offset;
}

/* 1 when the struct at p (NULL gives 0), whose first member is struct_size, was written by code
 * that knew `field`: read a field added after 1.0 only when this says so. */
#define FT_HAS_FIELD(p, type, field) \
    ((p) != NULL && ft_struct_holds(((const type *)(p))->struct_size, offsetof(type, field), sizeof(((type *)0)->field)))

/* The size of `type` through `field`: the least struct_size a reader accepts when `field` is the
 * last one of the version it needs (ABI 1.0 descriptors end at build, the 1.0 table at set_error). */
#define FT_SIZE_THROUGH(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* The exported entry point's name, for dlsym. */
#define FT_ENTRY_SYMBOL "finetune_plugin_entry"

/* Activation kinds for ft_host_api.activation. */
#define FT_ACT_RELU    1
#define FT_ACT_RELU6   2
#define FT_ACT_SILU    3
#define FT_ACT_SIGMOID 4
/* ABI 1.1 (a 1.0 host refuses them as unknown kinds: check host->abi_minor >= 1). */
#define FT_ACT_GELU        5   /* exact, erf-based: nn.GELU() */
#define FT_ACT_HARDSWISH   6
#define FT_ACT_HARDSIGMOID 7

/* Opaque handle to the graph the host is recording. */
typedef struct ft_builder ft_builder;

/* Parameters of a 2-D convolution. Weight layout in files: OIHW (torchvision's). */
typedef struct ft_conv2d_params {
    uint32_t struct_size;      /* sizeof(ft_conv2d_params) */
    int32_t out_channels;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_bottom, pad_left, pad_right;
    int32_t dilation_h, dilation_w;
    int32_t groups;
    int32_t bias;              /* 1: the layer has a bias tensor; 0: none */
} ft_conv2d_params;

/* Parameters of max and average pooling. */
typedef struct ft_pool_params {
    uint32_t struct_size;      /* sizeof(ft_pool_params) */
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_bottom, pad_left, pad_right;
    int32_t ceil_mode;         /* 1: output size rounds up, as PyTorch's ceil_mode=True */
    int32_t count_include_pad; /* average pooling only: 1 counts padded cells in the divisor */
} ft_pool_params;

/*
 * The builder table the host passes to build(). Every function returns the new node's id
 * (>= 0) or a negative value on error; names are torchvision state_dict prefixes for layers
 * with tensors ("layer1.0.conv1") and free-form labels (or NULL) for the others.
 */
typedef struct ft_host_api {
    uint32_t struct_size;
    uint32_t abi_major, abi_minor;

    /* The image input, NHWC; the host chooses batch and spatial size. */
    int32_t (*input)(ft_builder *b, int32_t channels);
    int32_t (*conv2d)(ft_builder *b, const char *name, int32_t x, const ft_conv2d_params *p);
    /* Tensors: weight, bias, running_mean, running_var, num_batches_tracked. */
    int32_t (*batch_norm)(ft_builder *b, const char *name, int32_t x, float eps, float momentum);
    int32_t (*activation)(ft_builder *b, const char *name, int32_t x, int32_t kind);
    /* Elementwise sum of two nodes of the same shape. */
    int32_t (*add)(ft_builder *b, const char *name, int32_t x, int32_t y);
    /* x (N,H,W,C) times scale (N,1,1,C), broadcast over H and W: squeeze-excitation. */
    int32_t (*channel_multiply)(ft_builder *b, const char *name, int32_t x, int32_t scale);
    int32_t (*max_pool)(ft_builder *b, const char *name, int32_t x, const ft_pool_params *p);
    int32_t (*avg_pool)(ft_builder *b, const char *name, int32_t x, const ft_pool_params *p);
    /* Mean over H and W: (N,H,W,C) -> (N,1,1,C). */
    int32_t (*global_avg_pool)(ft_builder *b, const char *name, int32_t x);
    /* Drops the whole residual branch per sample with probability p in training ("row" mode). */
    int32_t (*stochastic_depth)(ft_builder *b, const char *name, int32_t x, float p);
    int32_t (*dropout)(ft_builder *b, const char *name, int32_t x, float p);
    /* Layers added after this call belong to the named group (freezing, per-group learning rates). */
    int32_t (*begin_group)(ft_builder *b, const char *name);
    /* Marks the pooled feature node, (N,1,1,in_features); returns 0 or a negative error. */
    int32_t (*set_features)(ft_builder *b, int32_t x);
    /* Records why build() is about to fail. */
    void (*set_error)(ft_builder *b, const char *message);

    /* ---- ABI 1.1: check each with FT_HAS_FIELD(host, ft_host_api, name) before calling it. ---- */

    /* Concatenation along channels of `count` nodes with the same N, H and W (torch.cat(dim=1)). */
    int32_t (*concat)(ft_builder *b, const char *name, const int32_t *inputs, int32_t count);
    /* Channels [start, start + length) of x (Tensor.narrow(1, start, length), a half of chunk(2, 1)). */
    int32_t (*narrow)(ft_builder *b, const char *name, int32_t x, int32_t start, int32_t length);
    /* ShuffleNet's channel shuffle: view (groups, C / groups), transpose, flatten. */
    int32_t (*channel_shuffle)(ft_builder *b, const char *name, int32_t x, int32_t groups);
    /* nn.Linear over the channels of every pixel: (N,H,W,C) -> (N,H,W,out_features). Tensors:
     * weight (out_features, C), as nn.Linear keeps it, and bias when bias is 1. */
    int32_t (*linear)(ft_builder *b, const char *name, int32_t x, int32_t out_features, int32_t bias);
    /* nn.LayerNorm over the channels of every pixel (ConvNeXt's LayerNorm and LayerNorm2d).
     * Tensors: weight and bias (C). */
    int32_t (*layer_norm)(ft_builder *b, const char *name, int32_t x, float eps);
    /* x times a learnable per-channel scale whose tensor is `name` itself, (C, 1, 1) (ConvNeXt's
     * "<block>.layer_scale"); from random initialisation it starts at `initial`. */
    int32_t (*channel_scale)(ft_builder *b, const char *name, int32_t x, float initial);
} ft_host_api;

/* Resize interpolation of a weight set's evaluation preprocessing (Pillow's, antialiased). */
#define FT_INTERP_BILINEAR 1
#define FT_INTERP_BICUBIC  2

/* One published set of pretrained weights, as a torchvision Weights enum member describes it
 * (ABI 1.1). */
typedef struct ft_weight_set {
    uint32_t struct_size;      /* sizeof(ft_weight_set) */
    const char *name;          /* the member's name, e.g. "IMAGENET1K_V1" */
    const char *file_name;     /* e.g. "resnet18-f37072fd.pth" */
    const char *url;           /* where it is published */
    const char *sha256;        /* lower-case hex: the file's whole SHA-256, or the prefix its
                                  publisher gives (torchvision's is in the file name) */
    int32_t crop_size;         /* evaluation: centre crop of this side */
    int32_t resize_size;       /* evaluation: the shorter side resized to this first */
    int32_t interpolation;     /* FT_INTERP_BILINEAR or FT_INTERP_BICUBIC */
    float top1;                /* ImageNet-1K top-1 accuracy as published, percent */
} ft_weight_set;

/* One backbone a plugin provides. */
typedef struct ft_backbone_desc {
    uint32_t struct_size;
    uint32_t abi_major, abi_minor;
    const char *name;          /* command-line name, e.g. "efficientnet-b3" */
    const char *summary;       /* one line */
    int32_t in_features;       /* width of the pooled feature vector (fc.in_features) */
    int32_t input_size;        /* training crop, e.g. 224 */
    int32_t eval_resize;       /* evaluation: resize the shorter side to this, then crop input_size */
    float mean[3], std[3];     /* input normalisation, RGB */
    const char *weights_hint;  /* where pretrained weights come from */
    /* Describes the network through host; returns 0 on success, non-zero on failure. */
    int32_t (*build)(const ft_host_api *host, ft_builder *b);

    /* ---- ABI 1.1: the host reads these with FT_HAS_FIELD. ---- */

    int32_t weight_set_count;  /* published weight sets, the default first; 0: none */
    const ft_weight_set *const *weight_sets;
    /* The key prefix of the classifier in those checkpoints ("fc", "classifier.1", ...), which
     * import keeps as the head and fine-tuning drops; NULL: the last 2-D weight under fc.,
     * classifier. or head. */
    const char *classifier_key;
} ft_backbone_desc;

/* What finetune_plugin_entry returns. */
typedef struct ft_plugin_desc {
    uint32_t struct_size;
    uint32_t abi_major, abi_minor;
    const char *plugin_name;
    const char *plugin_version;
    int32_t backbone_count;
    const ft_backbone_desc *const *backbones;
} ft_plugin_desc;

/* Returns the plugin's static descriptor, or NULL to refuse a host it cannot serve. */
typedef const ft_plugin_desc *(*ft_plugin_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor);

#ifdef __cplusplus
}
#endif

#endif /* FINETUNE_PLUGIN_H */
