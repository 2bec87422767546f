"""Render a page in headless Chromium (Debian's package, installed by tools/setup) and read the screenshot.

Chromium is started the way it works on a machine with a closed network: no sandbox (root), no GPU, no
background networking, a new empty profile. The screenshot is kept under .artifacts/ as the test's artefact.
"""

import os
import shutil
import subprocess
import tempfile

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARTIFACTS = os.environ.get('WSFC_TEST_ARTIFACTS') or os.path.join(ROOT, '.artifacts')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars']


def chromium():
    """The Chromium executable, or None."""
    return shutil.which('chromium') or shutil.which('chromium-browser')


def screenshot(page, name, width=1400, height=1000):
    """Render the file ``page`` and return the screenshot (a PIL image), also saved as .artifacts/<name>.png."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    target = os.path.join(ARTIFACTS, name + '.png')
    if os.path.exists(target):
        os.remove(target)
    profile = tempfile.mkdtemp(prefix='wsfc-chromium-')
    try:
        proc = subprocess.run([chromium()] + FLAGS + ['--user-data-dir=' + profile, '--window-size=%d,%d' % (width, height),
                                                      '--screenshot=' + target, 'file://' + os.path.abspath(page)],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert os.path.exists(target), 'chromium wrote no screenshot (exit %s): %s' % (proc.returncode, proc.stderr[-2000:])
    return Image.open(target).convert('RGB')


def colour(text):
    """'#1f77b4' as (31, 119, 180)."""
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def bands(image, track, min_run=300):
    """The horizontal bands of the image whose rows hold at least ``min_run`` pixels of the colours ``track`` (a
    timeline's track: its background and its bars), each as {'top', 'bottom', 'colours': {rgb: pixel count}} of
    every pixel in the band."""
    width, height = image.size
    pixels = image.load()
    out, current = [], None
    for y in range(height):
        row = [pixels[x, y] for x in range(width)]
        # The track: the longest unbroken run of its colours in the row (not the label beside it, whose smoothed
        # edges have grey pixels of any shade).
        start, best = 0, (0, 0)
        for x in range(width + 1):
            if x == width or row[x] not in track:
                if x - start > best[1] - best[0]:
                    best = (start, x)
                start = x + 1
        if best[1] - best[0] >= min_run:
            if current is None:
                current = {'top': y, 'bottom': y, 'colours': {}}
                out.append(current)
            current['bottom'] = y
            for value in row[best[0]:best[1]]:
                current['colours'][value] = current['colours'].get(value, 0) + 1
        else:
            current = None
    return out
