#!/bin/sh
# Regenerates the narrated example's small self-made assets with ffmpeg's lavfi sources.
set -eu
cd "$(dirname "$0")"
# 8 s of slowly drifting colour gradients, 540x960 (the engine scales it to cover 1080x1920).
ffmpeg -hide_banner -loglevel error -y -f lavfi \
  -i "gradients=s=540x960:r=30:d=8:speed=0.015:c0=0x1b2a49:c1=0x3c6e71:c2=0xd9a05b:nb_colors=3:seed=7" \
  -c:v libx264 -preset veryslow -crf 30 -pix_fmt yuv420p -movflags +faststart background.mp4
# An 8 s music loop: a soft A-minor chord pulsing twice a second, with a little noise.
ffmpeg -hide_banner -loglevel error -y -f lavfi \
  -i "aevalsrc=(0.22*sin(2*PI*220*t)+0.16*sin(2*PI*261.63*t)+0.16*sin(2*PI*329.63*t)+0.1*sin(2*PI*110*t))*(0.6+0.4*cos(2*PI*2*t)):s=44100:d=8" \
  -f lavfi -i "anoisesrc=d=8:c=pink:a=0.02:r=44100" \
  -filter_complex "[0][1]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo" \
  -c:a libmp3lame -b:a 96k music.mp3
