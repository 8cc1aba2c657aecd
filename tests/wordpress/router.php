<?php
/**
 * A WordPress stand-in for `php -S`: a single post (/?p=ID), the blog home with whole posts
 * (/), the RSS feed (/feed/) and the REST API (/wp-json/wp/v2/posts/ID), with the paywall
 * plugin loaded as WordPress loads a must-use plugin.
 *
 * The cookie "stub_user" names the logged-in user (the test stands in for WordPress's
 * signed login cookie); STUB_MEMBER_CAPABILITY in the environment stands for wp-config.php, and
 * STUB_WITHOUT_PLUGIN leaves the plugin out.
 */

require __DIR__ . '/stub.php';

$users = array(
	'member'     => array( 'read', 'paywall_read_full' ),
	'subscriber' => array( 'read' ),
	'editor'     => array( 'read', 'edit_posts', 'edit_post', 'read_private_posts' ),
);
$posts = json_decode( file_get_contents( __DIR__ . '/posts.json' ), true );
foreach ( $posts as $id => $post ) {
	$GLOBALS['stub_posts'][ (int) $id ] = $post;
}

$login = $_COOKIE['stub_user'] ?? '';
if ( isset( $users[ $login ] ) ) {
	$GLOBALS['stub_user'] = array( 'login' => $login, 'caps' => $users[ $login ] );
}
if ( getenv( 'STUB_MEMBER_CAPABILITY' ) ) {
	define( 'PAYWALL_MEMBER_CAPABILITY', getenv( 'STUB_MEMBER_CAPABILITY' ) );
}

if ( ! getenv( 'STUB_WITHOUT_PLUGIN' ) ) { // a WordPress without the plugin: the paywall alone gates every copy
	require dirname( __DIR__, 2 ) . '/integrations/wordpress/paywall-access.php';
}
do_action( 'init' );

function body_of( $post ) {
	return implode( "\n", array_map( function ( $p ) {
		return '<p>' . esc_html( $p ) . '</p>';
	}, $post['paragraphs'] ) );
}

function the_content_of( $id ) {
	$GLOBALS['stub_the_post'] = $id;
	return apply_filters( 'the_content', body_of( $GLOBALS['stub_posts'][ $id ] ) );
}

$path = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH );

if ( preg_match( '@^/wp-json/wp/v2/posts/(\d+)$@', $path, $m ) && isset( $GLOBALS['stub_posts'][ (int) $m[1] ] ) ) {
	$id   = (int) $m[1];
	$post = new WP_Post( $id, body_of( $GLOBALS['stub_posts'][ $id ] ), $GLOBALS['stub_posts'][ $id ]['excerpt'] ?? '' );
	do_action( 'rest_api_init' );
	$response = new WP_REST_Response(
		array(
			'id'      => $id,
			'content' => array( 'rendered' => the_content_of( $id ), 'protected' => false ),
			'meta'    => array( 'paywall' => (string) get_post_meta( $id, 'paywall', true ) ),
		)
	);
	$response = apply_filters( 'rest_prepare_post', $response, $post, null );
	header( 'Content-Type: application/json; charset=UTF-8' );
	echo json_encode( $response->get_data() );
	return true;
}

if ( '/feed/' === $path ) {
	$GLOBALS['stub_query'] = array( 'singular' => false, 'feed' => true, 'post' => 0 );
	do_action( 'template_redirect' );
	header( 'Content-Type: application/rss+xml; charset=UTF-8' );
	echo '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Stub</title>';
	foreach ( $GLOBALS['stub_posts'] as $id => $post ) {
		echo '<item><title>' . esc_html( $post['title'] ) . '</title><description><![CDATA[' . the_content_of( $id ) . ']]></description></item>';
	}
	echo '</channel></rss>';
	return true;
}

if ( '/' !== $path ) {
	return false;
}

$id = isset( $_GET['p'] ) ? (int) $_GET['p'] : 0;
if ( $id && ! isset( $GLOBALS['stub_posts'][ $id ] ) ) {
	http_response_code( 404 );
	echo '<!DOCTYPE html><html><body><h1>Not found</h1></body></html>';
	return true;
}
$GLOBALS['stub_query'] = array( 'singular' => $id > 0, 'feed' => false, 'post' => $id );
do_action( 'template_redirect' );
header( 'Content-Type: text/html; charset=UTF-8' );
echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Stub</title></head><body class="single">';
$ids = $id ? array( $id ) : array_keys( $GLOBALS['stub_posts'] );
foreach ( $ids as $shown ) {
	echo '<article class="post"><h2>' . esc_html( $GLOBALS['stub_posts'][ $shown ]['title'] ) . '</h2>';
	echo '<div class="entry-content">' . the_content_of( $shown ) . '</div></article>';
}
echo '</body></html>';
return true;
