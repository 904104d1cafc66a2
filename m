Subject: x

hello
