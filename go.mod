module github.com/bulksync/bulksync

go 1.26.8

require (
	golang.org/x/oauth2 v0.37.0
	golang.org/x/time v0.16.0
)
