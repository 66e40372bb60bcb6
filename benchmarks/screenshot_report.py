"""Screenshot of an hmr-eval report in headless chromium (Debian's; playwright drives it).

    python benchmarks/screenshot_report.py out/eval/synthocc/report.html OUT.png [--height 2200]

The top of the page (summary tables and the first plots) at 1280 px wide; the image in
docs/results/ was made this way.
"""
import argparse
from pathlib import Path
import shutil
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('report')
    p.add_argument('out')
    p.add_argument('--height', type=int, default=2200, help='pixels of the page captured')
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if chromium is None:
        print('Debian chromium is not installed (apt-get install chromium)', file=sys.stderr)
        return 1
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=['--no-sandbox'])
        page = browser.new_page(viewport={'width': 1280, 'height': args.height})
        # A report with many inline images loads slowly on a busy machine.
        page.goto(Path(args.report).resolve().as_uri(), timeout=300_000)
        page.screenshot(path=args.out, clip={'x': 0, 'y': 0, 'width': 1280,
                                             'height': args.height})
        browser.close()
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
