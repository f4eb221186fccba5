/* The plugin ABI lives in include/finetune_plugin.h; this file gives the C target a source. */
