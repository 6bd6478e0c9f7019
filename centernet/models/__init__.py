"""Models: backbones, heads, building, safe checkpoint loading, the zoo and downloads, conversion, inspection."""
