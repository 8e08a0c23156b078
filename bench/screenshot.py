"""Screenshot a dashboard page in headless Chromium, to look at it as a user would.

    python bench/screenshot.py /Train out.png [--click Train] [--url http://127.0.0.1:8501] [--height 1600]

Starts a dashboard with an empty run store unless --url is given. Streamlit's main
area scrolls inside the window, so make the window as tall as the page you want.
"""
import argparse
import re

from serve import chromium_page, dashboard, wait_idle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="page path and query, e.g. /Train?steps=300")
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--click", help="click the button with this name first, then wait for the page to settle")
    parser.add_argument("--url", help="a running dashboard (default: start one)")
    parser.add_argument("--charts", type=int, default=0, help="wait until this many plotly charts are drawn")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1600)
    args = parser.parse_args()
    with dashboard(args.url) as base, chromium_page(args.width, args.height) as page:
        page.goto(base + args.path)
        wait_idle(page)
        if args.click:
            page.get_by_role("button", name=re.compile(args.click)).first.click()
            page.wait_for_selector("[data-testid='stApp'][data-test-script-state='running']", state="attached")
            page.wait_for_function("!document.querySelector(\"[data-testid='stApp'][data-test-script-state='running']\")"
                                   " && !document.querySelector(\"[data-testid='stProgress']\")")
            wait_idle(page)
        # plotly draws after the script ends: wait for the charts the caller expects
        page.wait_for_function("n => document.querySelectorAll(\"[data-testid='stPlotlyChart'] .js-plotly-plot\")"
                               ".length >= n", arg=args.charts)
        page.wait_for_timeout(1000)  # let plotly and graphviz finish drawing before the picture
        page.screenshot(path=args.out, full_page=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
