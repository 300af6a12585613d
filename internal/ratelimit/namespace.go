package ratelimit

// sharedSchema versions the layout of the rate-limit state in shared data.
// Shared data outlives a plugin reload, so a new layout must use a new
// namespace rather than misread the old one.
const sharedSchema = "v1"

// SharedNamespace is the namespace New takes for the plugin whose
// plugin_root_id is rootID.
func SharedNamespace(rootID string) string { return "apiguard/" + rootID + "/" + sharedSchema }
