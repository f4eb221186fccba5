// Placeholder until the plugin is written; delete when the real file lands.
