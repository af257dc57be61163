# Shared by benches/run.sh and benches/profile.sh (sourced; expects WORK and STARTED
# to be set): the list of servers to stop, logging, ports and the nginx they measure.

PIDS=()
cleanup() {
	local status=$?
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - STARTED))" >&2; }
note() { # a line of prose for the report: note KIND TEXT
	python3 -c 'import json,sys; print(json.dumps({"bench":"note","kind":sys.argv[1],"text":sys.argv[2]}))' "$1" "$2" >>"$RESULTS"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s)
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "nothing listens on 127.0.0.1:$1" >&2
	return 1
}

# start_nginx: nginx on a free port of 127.0.0.1 (one worker, access_log off,
# keep-alive, `return 200 "ok"`), installed with apt-get when missing and run as root;
# sets URL and adds its PID to PIDS.
start_nginx() {
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	if [ ! -x "$NGINX" ]; then
		if [ "$(id -u)" = 0 ]; then
			log "installing nginx-light (apt-get)"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >&2 ||
				{ apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >&2; }
			NGINX=$(command -v nginx || echo /usr/sbin/nginx)
		else
			echo "nginx is missing: run 'sudo apt-get install -y nginx-light' (or run make bench as root)" >&2
			exit 1
		fi
	fi
	NGINX_PORT=$(free_port)
	mkdir -p "$WORK/nginx"
	temp_paths=""
	for m in client_body proxy fastcgi uwsgi scgi; do
		if [ "$m" = client_body ] || ! "$NGINX" -V 2>&1 | grep -q -- "--without-http_${m}_module"; then
			temp_paths="$temp_paths    ${m}_temp_path $WORK/nginx/$m;"$'\n'
		fi
	done
	cat >"$WORK/nginx/nginx.conf" <<-EOF
	worker_processes 1;
	daemon off;
	master_process on;
	pid $WORK/nginx/nginx.pid;
	error_log $WORK/nginx/error.log warn;
	events { worker_connections 4096; }
	http {
	    access_log off;
	    keepalive_requests 1000000;
	    keepalive_timeout 600s;
	$temp_paths
	    server {
	        listen 127.0.0.1:$NGINX_PORT;
	        location / { return 200 "ok"; }
	    }
	}
	EOF
	"$NGINX" -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
	PIDS+=($!)
	wait_port "$NGINX_PORT"
	URL="http://127.0.0.1:$NGINX_PORT"
}
