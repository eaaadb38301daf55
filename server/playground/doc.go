// Package playground serves GraphiQL, the in-browser GraphQL IDE, with every
// script, stylesheet and font coming from apiws itself: the page works with no
// internet access and under a strict Content-Security-Policy.
//
// The browser builds of GraphiQL, React, ReactDOM and graphql-ws are copied
// from npm packages pinned by npm/package-lock.json into assets/vendor by
// npm/update.sh, and committed; building apiws embeds them and never runs npm.
// To update them: edit the versions in npm/package.json, run `npm install` in
// npm/ so the lockfile follows, then run npm/update.sh and commit assets/vendor
// together with the lockfile.
package playground
