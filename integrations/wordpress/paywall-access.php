<?php
/**
 * Plugin Name: Paywall access
 * Description: Tells the paywall in front of this site who is a member (X-Paywall-Access) and which posts are free or for members only (X-Paywall).
 * Version: 1.0.0
 * Requires PHP: 7.4
 * License: Apache-2.0
 *
 * A must-use plugin: copy this file into wp-content/mu-plugins/ (create the folder if needed).
 * It works with `paywall proxy` in front of WordPress, which reads both headers and removes them
 * before the reader's browser sees them.
 *
 * Members. A logged-in user who has the capability PAYWALL_MEMBER_CAPABILITY (default
 * "paywall_read_full") is a member. Grant it to a role once, for instance with WP-CLI:
 *     wp cap add subscriber paywall_read_full
 * or name a capability your membership plugin already grants, in wp-config.php:
 *     define( 'PAYWALL_MEMBER_CAPABILITY', 'read_private_posts' );
 * The filter "paywall_is_member" (bool $is_member, WP_User|null $user) can decide instead.
 *
 * Pages. A post whose custom field "paywall" (PAYWALL_META_KEY) is "free" is sent with
 * "X-Paywall: free" and passes whole; "members" sends "X-Paywall: members". Anything else
 * (no field, "metered") leaves the paywall's own rule: metered when free_articles is set,
 * else the teaser. The filter "paywall_post_access" (string $choice, int $post_id) can decide instead.
 *
 * Copies outside the page. The paywall cuts the post's own page, feeds and REST answers; the
 * same text also leaves WordPress on archive pages that show whole posts. For readers who are
 * not members, and posts not marked free, WordPress replaces those copies itself by the excerpt
 * (the post's own, or its first paragraph, 55 words at most) and a link to the post. REST
 * answers carry "X-Paywall-Access: member" for members and for users who edit posts, whose
 * block editor must load whole posts; a post's "paywall" field shows in the REST API as
 * meta.paywall, which the paywall reads as it reads X-Paywall.
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/** The capability that makes a logged-in user a member. */
function paywall_member_capability() {
	return defined( 'PAYWALL_MEMBER_CAPABILITY' ) ? (string) PAYWALL_MEMBER_CAPABILITY : 'paywall_read_full';
}

/** The post meta key that holds a post's choice: "free", "members" or "metered". */
function paywall_meta_key() {
	return defined( 'PAYWALL_META_KEY' ) ? (string) PAYWALL_META_KEY : 'paywall';
}

/** Whether the current reader is a member (never true for a visitor who is not logged in). */
function paywall_is_member() {
	$member = is_user_logged_in() && current_user_can( paywall_member_capability() );
	$user   = is_user_logged_in() ? wp_get_current_user() : null;
	return true === apply_filters( 'paywall_is_member', $member, $user );
}

/** "free", "members" or "" (the paywall's own rule) for the post being shown. */
function paywall_post_access() {
	if ( ! is_singular() ) {
		return '';
	}
	return paywall_choice_of( (int) get_queried_object_id() );
}

/** A post's choice: "free", "members" or "" (the paywall's own rule). */
function paywall_choice_of( $post_id ) {
	$choice = strtolower( trim( (string) get_post_meta( $post_id, paywall_meta_key(), true ) ) );
	$choice = (string) apply_filters( 'paywall_post_access', $choice, $post_id );
	return in_array( $choice, array( 'free', 'members' ), true ) ? $choice : '';
}

/** Whether this reader may have a post's whole text where the paywall cannot cut it. */
function paywall_may_read_whole( $post_id ) {
	return paywall_is_member() || current_user_can( 'edit_post', $post_id ) || 'free' === paywall_choice_of( $post_id );
}

/** The excerpt (the post's own, or at most 55 words of its first paragraph) and a link to the post. */
function paywall_teaser( $post_id, $content ) {
	$first   = preg_match( '@<p[^>]*>(.*?)</p>@is', $content, $found ) ? $found[1] : $content;
	$excerpt = has_excerpt( $post_id ) ? get_post_field( 'post_excerpt', $post_id ) : wp_trim_words( $first, 55 );
	$link    = '<a href="' . esc_url( get_permalink( $post_id ) ) . '">' . esc_html__( 'Read the whole article' ) . '</a>';
	return '<p>' . esc_html( wp_strip_all_tags( $excerpt ) ) . '</p>' . "\n" . '<p>' . $link . '</p>';
}

/** Feeds and archive pages (feeds pass through the_content too): the teaser for posts a non-member may not read whole. */
function paywall_content_outside_the_gate( $content ) {
	$post_id = (int) get_the_ID();
	if ( ( is_singular() && ! is_feed() ) || $post_id <= 0 || paywall_may_read_whole( $post_id ) ) {
		return $content;
	}
	return paywall_teaser( $post_id, $content );
}
add_filter( 'the_content', 'paywall_content_outside_the_gate', 999 );

/** The REST API: the rendered content becomes the teaser, marked protected. */
function paywall_rest_content( $response, $post ) {
	if ( paywall_may_read_whole( (int) $post->ID ) ) {
		return $response;
	}
	$data = $response->get_data();
	if ( isset( $data['content'] ) && is_array( $data['content'] ) ) {
		$data['content']['rendered']  = paywall_teaser( (int) $post->ID, (string) $post->post_content );
		$data['content']['protected'] = true;
		$response->set_data( $data );
	}
	return $response;
}

/** Every post type the REST API shows. */
function paywall_register_rest_filters() {
	foreach ( get_post_types( array( 'show_in_rest' => true ) ) as $post_type ) {
		add_filter( 'rest_prepare_' . $post_type, 'paywall_rest_content', 999, 2 );
	}
}
add_action( 'rest_api_init', 'paywall_register_rest_filters' );

/**
 * The REST API renders no template, so its answers get the member header here: for members, and
 * for users who edit posts, whose block editor loads and saves whole posts through the REST API
 * (the paywall cuts JSON bodies too, and a cut post saved back would lose its text).
 */
function paywall_send_rest_access_headers() {
	if ( ! headers_sent() && ( paywall_is_member() || current_user_can( 'edit_posts' ) ) ) {
		header( 'X-Paywall-Access: member' );
	}
}
add_action( 'rest_api_init', 'paywall_send_rest_access_headers' );

/** The headers for this response, as name => value. */
function paywall_access_headers() {
	$headers = array();
	if ( paywall_is_member() ) {
		$headers['X-Paywall-Access'] = 'member';
	}
	$choice = paywall_post_access();
	if ( '' !== $choice ) {
		$headers['X-Paywall'] = $choice;
	}
	return $headers;
}

/** Send the headers once the query is known (template_redirect), before any output. */
function paywall_send_access_headers() {
	if ( headers_sent() ) {
		return;
	}
	foreach ( paywall_access_headers() as $name => $value ) {
		header( $name . ': ' . $value );
	}
}
add_action( 'template_redirect', 'paywall_send_access_headers', 1 );

/** The custom field, editable in the block editor's sidebar and through the REST API by editors. */
function paywall_register_meta() {
	register_post_meta(
		'',
		paywall_meta_key(),
		array(
			'type'          => 'string',
			'single'        => true,
			'show_in_rest'  => true,
			'default'       => '',
			'auth_callback' => function () {
				return current_user_can( 'edit_posts' );
			},
		)
	);
}
add_action( 'init', 'paywall_register_meta' );
