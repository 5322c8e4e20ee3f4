"""Maps the top-level folders envs/, tools/ and trainers/ into the agentgym namespace.

Metadata lives in pyproject.toml; this file only computes the package list so that every
subpackage added later is picked up by both wheel and editable installs without editing a list.
"""

from setuptools import find_packages, setup

ROOTS = {"agentgym": "agentgym", "agentgym.envs": "envs", "agentgym.tools": "tools", "agentgym.trainers": "trainers"}

packages: list[str] = []
package_dir: dict[str, str] = {}
for name, folder in ROOTS.items():
    package_dir[name] = folder
    packages.append(name)
    for sub in find_packages(folder):
        packages.append(f"{name}.{sub}")
# the core package must not swallow the mapped folders (they are siblings on disk)
packages = sorted(set(packages))

# the viewer's page, stylesheet and script are inlined into every report at build time
setup(packages=packages, package_dir=package_dir,
      package_data={"": ["*.json", "*.jsonl", "*.txt", "*.yaml"], "agentgym.viewer": ["assets/*"]})
